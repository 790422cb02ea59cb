/**
 * Every method has examples (rpc-schema/examples/<method>.json): scripts/gen.mjs refuses to run
 * without them, so no method reaches the API reference without an example that the conformance
 * test replays against the real process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT, StoreProcess } from '../helpers/process.js';

describe('rpc-schema/examples', function () {
  this.timeout(60000);

  it('has a file for every method of rpc-schema/methods/ and none for a method that does not exist', () => {
    const methods = readdirSync(join(ROOT, 'rpc-schema', 'methods')).filter((f) => f.endsWith('.json'));
    const examples = readdirSync(join(ROOT, 'rpc-schema', 'examples')).filter((f) => f.endsWith('.json'));
    expect(methods.filter((m) => !examples.includes(m)), 'methods without examples').to.deep.equal([]);
    expect(examples.filter((e) => !methods.includes(e)), 'examples of no method').to.deep.equal([]);
  });

  it('rpc.discover answers them: an OpenRPC example (params, result or x-error, x-setup) for every method', async () => {
    const p = await StoreProcess.start();
    try {
      const doc = await p.call('rpc.discover');
      const files = new Set(readdirSync(join(ROOT, 'rpc-schema', 'examples')).map((f) => f.replace(/\.json$/, '')));
      for (const m of doc.methods) {
        expect(files.has(m.name), m.name).to.equal(true);
        expect(m.examples, m.name).to.be.an('array').that.is.not.empty;
        for (const x of m.examples) {
          expect(x.name, m.name).to.be.a('string');
          expect(x.params, `${m.name} ${x.name}`).to.be.an('array');
          expect('result' in x || 'x-error' in x, `${m.name} ${x.name}`).to.equal(true);
          // What the docs show has no markers left.
          expect(JSON.stringify(x), `${m.name} ${x.name}`).to.not.match(/"\$any"|"\$ref"|"\$more"/);
        }
      }
    } finally {
      await p.cleanup();
    }
  });

  it('gen.mjs refuses a method without examples, naming it', () => {
    const copy = mkdtempSync(join(tmpdir(), 'wr-examples-'));
    try {
      const cp = spawnSync('cp', ['-r', '--parents', 'scripts', 'rpc-schema', 'sql', 'docs', 'conformance', 'package.json', 'src/generated', copy], { cwd: ROOT });
      expect(cp.status, String(cp.stderr)).to.equal(0);
      spawnSync('ln', ['-s', join(ROOT, 'node_modules'), join(copy, 'node_modules')]);
      rmSync(join(copy, 'rpc-schema', 'examples', 'songs.get.json'));
      const r = spawnSync(process.execPath, [join(copy, 'scripts', 'gen.mjs'), '--check'], { cwd: copy, encoding: 'utf8' });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/missing: songs\.get/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
