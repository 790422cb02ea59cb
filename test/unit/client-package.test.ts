/**
 * The client as a host gets it: `import ... from 'whiteroom-store'` in another project (the
 * package linked into its node_modules) resolves through package.json `exports` to the built
 * JavaScript and its declarations, and a strict TypeScript build of host code checks calls,
 * results, events and errors against the types derived from rpc-schema/ (wrong params, a method
 * that does not exist, onProgress where there is no progress, are compile errors). The .d.ts
 * files themselves are checked too (skipLibCheck off). They are made by tsconfig.client.json
 * (a second, declarations-only pass of `npm run build` over the client and what it imports).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/process.js';

const HOST_CODE = `
import { WhiteroomClient, WhiteroomError, WhiteroomConnectionError, ErrorCode, type StoredSong, type StoreChangedParams, type Progress } from 'whiteroom-store';

export async function host(): Promise<number> {
  const c = await WhiteroomClient.spawn({ dataDir: '/tmp/unused', framing: 'header' });
  const s: StoredSong = await c.songs.get({ id: 'a' });
  const n: number = (await c.songs.count()).count;
  const r = await c.call('songs.get', { id: 'a' });
  const rev: number = r.revision;
  const text: string = await c.callText('songs.list', { limit: 5 });
  const off: () => void = c.on('store.changed', (p: StoreChangedParams) => void p.ids);
  off();
  c.on('autosave.saved', (p) => {
    const written: boolean = p.rowWritten;
    void written;
  });
  c.on('$/progress', (p) => void p.value.percentage);
  const progress: Progress[] = [];
  const b = await c.backup.create({ label: 'x' }, { onProgress: (p) => progress.push(p), signal: AbortSignal.timeout(1000) });
  const name: string = b.name;
  // Families named after reserved words are properties like any other.
  const exported = await c.export.songs();
  await c.import.songs({ path: exported.path, onConflict: 'skip' });
  // @ts-expect-error onConflict is one of skip, replace, duplicate
  await c.import.songs({ path: exported.path, onConflict: 'merge' });
  try {
    await c.songs.delete({ id: 'a', ifRevision: 3 });
  } catch (e) {
    if (e instanceof WhiteroomError && e.is(ErrorCode.Conflict)) {
      const actual: number = e.data.actual;
      void actual;
    }
    if (e instanceof WhiteroomError && e.is(ErrorCode.FileRefused)) {
      const reason: 'outside' | 'not-found' | 'not-a-file' | 'exists' | 'protected' | 'symlink' | 'permission' | 'no-folder' | 'name' | 'too-many-files' | 'changed' | 'io' = e.data.reason;
      void reason;
    }
    if (e instanceof WhiteroomConnectionError) void e.exitCode;
  }
  // @ts-expect-error id is required
  await c.songs.get({});
  // @ts-expect-error params are required
  await c.songs.get();
  // @ts-expect-error an unknown param
  await c.songs.get({ id: 'a', extra: 1 });
  // @ts-expect-error no such method
  await c.call('songs.fly', {});
  // @ts-expect-error songs.count reports no progress
  await c.songs.count({}, { onProgress: () => {} });
  // @ts-expect-error count is a number
  const wrong: string = (await c.songs.count()).count;
  // @ts-expect-error no such notification
  c.on('store.chnaged', () => {});
  const exit = await c.close({ timeoutMs: 5000 });
  void [s, n, rev, text, name, wrong, exit];
  await c[Symbol.asyncDispose]();
  return n;
}
`;

describe('the client as a package', function () {
  this.timeout(120000);
  let dir: string;
  before(() => {
    // The declarations as `npm run build` makes them, from the current source (a plain
    // `tsc -p .` emits none, and stale ones would be tested otherwise).
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.client.json')], { cwd: ROOT });
    dir = mkdtempSync(join(tmpdir(), 'wr-host-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'whiteroom-store'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'host', private: true, type: 'module' }));
    writeFileSync(join(dir, 'host.ts'), HOST_CODE);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['host.ts'],
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("resolves 'whiteroom-store' to the client through exports, in another project", () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "import * as m from 'whiteroom-store'; console.log(typeof m.WhiteroomClient.spawn, m.ErrorCode.NotFound, m.METHOD_FAMILIES.songs.includes('get'))"],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(out.trim()).to.equal('function -32001 true');
  });

  it('type-checks host code against the declarations: right calls compile, wrong ones do not', () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout) + String((err as { stderr?: string }).stderr);
    }
    expect(output, output).to.equal('');
  });
});
