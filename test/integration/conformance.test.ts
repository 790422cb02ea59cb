/**
 * The conformance corpus (conformance/*.json: every method's examples from rpc-schema/examples/,
 * and a vector for each error code the protocol can produce), replayed by conformance/run.mjs
 * against the real process: the built JavaScript, or the binary named by WHITEROOM_STORE_BIN
 * (npm run test:bin). The examples shown in docs/api.md and rpc.discover are these vectors, so
 * an example that no longer matches what the sidecar answers fails here.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT, sidecarCommand } from '../helpers/process.js';

const RUNNER = join(ROOT, 'conformance', 'run.mjs');

/** Runs the runner on `files` against the sidecar; answers its exit status and output. */
function runCorpus(files: string[]): Promise<{ code: number | null; out: string }> {
  const [cmd, lead] = sidecarCommand();
  const args = [RUNNER, '--jobs', '2', ...files, '--', cmd, ...lead, '--data-dir', '{dataDir}', '--log-level', 'warn', '--auto-backup-hours', '0'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('conformance corpus', function () {
  this.timeout(900_000);

  it('every vector of conformance/ (the examples of every method, every error code) passes against the sidecar', async () => {
    const { code, out } = await runCorpus([]);
    const failures = out.split('\n').filter((l) => l.startsWith('not ok') || l.startsWith('  #'));
    expect(code, failures.join('\n') || out.slice(-2000)).to.equal(0);
    expect(out).to.match(/# \d+ passed, 0 failed/);
  });

  it('the runner fails a vector whose answer differs, naming the pointer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conformance-test-'));
    try {
      const file = join(dir, 'wrong.json');
      writeFileSync(
        file,
        JSON.stringify([
          { name: 'wrong-result', method: 'system.ping', result: { pong: false, time: { $any: 'timestamp' } } },
          { name: 'wrong-code', method: 'songs.get', params: { id: 'giant-steps' }, error: { code: -32002 } },
          { name: 'right', method: 'songs.get', params: { id: 'giant-steps' }, error: { code: -32001, data: { entity: 'songs', id: { $any: 'id' } } } },
        ]),
      );
      const { code, out } = await runCorpus([file]);
      expect(code).to.equal(1);
      expect(out).to.match(/not ok 1 - wrong\.json: system\.ping wrong-result\n {2}# \/result\/pong: expected false, got true/);
      expect(out).to.match(/not ok 2 - .*wrong-code\n {2}# error\.code: expected -32002, got -32001/);
      expect(out).to.match(/^ok 3 - .*right$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
