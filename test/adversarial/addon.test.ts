/**
 * The packaged binary never loads a native addon it has not verified. It keeps
 * better_sqlite3.node in a private folder (the per-user cache, else a private temporary folder),
 * checks the SHA-256 of the file before process.dlopen, and replaces anything else found at its
 * name. Each test runs the built binary (dist-bin/whiteroom-store, or $WHITEROOM_STORE_BIN; built
 * here when missing) with a cache folder (XDG_CACHE_HOME) and a temporary folder (TMPDIR) of its own.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { expect } from 'chai';
import { ROOT, tempDir } from '../helpers/process.js';

const BUILT = resolve(process.env.WHITEROOM_STORE_BIN ?? join(ROOT, 'dist-bin', 'whiteroom-store'));
const ADDON_NAME = /^better_sqlite3-([0-9a-f]{16})\.node$/;
/** Binaries started at the same moment on an empty cache (the machine has 2 cores). */
const CONCURRENT_STARTS = 6;
const CONCURRENT_ROUNDS = 3;
const isPosix = process.platform !== 'win32';
const isRoot = process.getuid?.() === 0;

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const modeOf = (path: string): number => lstatSync(path).mode & 0o777;

describe('the packaged binary loads only a verified SQLite addon', function () {
  this.timeout(60000);
  let dir: string;
  let bin: string;
  let n = 0;

  before(function () {
    if (!isPosix) this.skip();
    if (!existsSync(BUILT)) {
      // npm test builds it first (npm run package); a hand-run mocha builds it here, once.
      this.timeout(300000);
      execFileSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs')], { stdio: 'ignore' });
    }
    dir = tempDir('wr-addon-');
    bin = join(dir, 'whiteroom-store');
    copyFileSync(BUILT, bin);
  });

  after(() => {
    if (dir) {
      // A test may leave a folder of another owner or without write permission behind.
      spawnSync('chmod', ['-R', 'u+rwx', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** A fresh case folder: `xdg` (XDG_CACHE_HOME, not created), `tmp` (TMPDIR, created), `cache` (ours). */
  function fresh(): { xdg: string; tmp: string; cache: string; env: NodeJS.ProcessEnv } {
    const root = join(dir, `case-${++n}`);
    const xdg = join(root, 'xdg');
    const tmp = join(root, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const env = { PATH: join(root, 'no-bin'), HOME: join(root, 'home'), XDG_CACHE_HOME: xdg, TMPDIR: tmp, LANG: 'C' };
    return { xdg, tmp, cache: join(xdg, 'whiteroom-store'), env };
  }

  const ping = (env: NodeJS.ProcessEnv): ReturnType<typeof spawnSync> =>
    spawnSync(bin, ['--data-dir', join(dir, `data-${++n}`), 'call', 'system.ping'], { env, encoding: 'utf8', timeout: 20000 });

  function expectPong(r: ReturnType<typeof spawnSync>): void {
    expect(r.status, String(r.stderr)).to.equal(0);
    expect(JSON.parse(String(r.stdout))).to.include({ pong: true });
  }

  /** The one addon file in `cache`, checked to hash to the value its name starts with. */
  function verifiedAddon(cache: string): string {
    const files = readdirSync(cache);
    expect(files).to.have.length(1);
    const [, prefix] = ADDON_NAME.exec(files[0]!) ?? expect.fail(`unexpected file ${files[0]} in the cache`);
    const file = join(cache, files[0]!);
    expect(lstatSync(file).isFile(), 'a regular file').to.equal(true);
    expect(sha256(file).startsWith(prefix!), 'the SHA-256 in its name').to.equal(true);
    return file;
  }

  /** Runs once on a fresh cache and returns the case with the verified addon's path and bytes. */
  function warmed(): ReturnType<typeof fresh> & { file: string; good: Buffer } {
    const c = fresh();
    expectPong(ping(c.env));
    const file = verifiedAddon(c.cache);
    return { ...c, file, good: readFileSync(file) };
  }

  it('extracts the addon into a new cache folder of mode 0700 and loads it', () => {
    const { cache, file } = warmed();
    expect(modeOf(cache).toString(8)).to.equal('700');
    expect(modeOf(file) & 0o022, 'writable by nobody else').to.equal(0);
  });

  it('does not rewrite a verified file on the next start', () => {
    const { env, file } = warmed();
    const before = statSync(file);
    expectPong(ping(env));
    const after = statSync(file);
    expect([after.ino, after.mtimeMs, after.ctimeMs]).to.deep.equal([before.ino, before.mtimeMs, before.ctimeMs]);
  });

  it('binaries starting together on an empty cache all load a whole, verified file', async () => {
    const one = (env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> =>
      new Promise((done) => {
        const child = spawn(bin, ['--data-dir', join(dir, `data-${++n}`), 'call', 'system.ping'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (code) => done({ code, stderr }));
      });
    // A race shows only sometimes: a few rounds, each on an empty cache.
    for (let round = 0; round < CONCURRENT_ROUNDS; round++) {
      const { env, cache, tmp } = fresh();
      // No fallback: each must succeed through the cache folder, while the others write it too.
      rmSync(tmp, { recursive: true });
      writeFileSync(tmp, 'not a folder');
      const results = await Promise.all(Array.from({ length: CONCURRENT_STARTS }, () => one(env)));
      expect(results, JSON.stringify(results)).to.deep.equal(results.map(() => ({ code: 0, stderr: '' })));
      verifiedAddon(cache); // one file: no temporary file left behind
    }
  });

  it('detects a tampered file of the same size in the cache, replaces it, and works', () => {
    const { env, cache, file, good } = warmed();
    const tampered = Buffer.from(good);
    tampered[tampered.length >> 1]! ^= 0xff;
    writeFileSync(file, tampered);
    expect(statSync(file).size).to.equal(good.length);
    expectPong(ping(env));
    expect(verifiedAddon(cache)).to.equal(file);
    expect(readFileSync(file).equals(good)).to.equal(true);
  });

  it('does not follow a symbolic link planted at the file name: the link is replaced, its target untouched', () => {
    const { env, cache, file, good } = warmed();
    // Targets of the addon's size (a loader that checks only the size would load them): junk, and
    // a good copy in a folder of the test's (which others might be able to change).
    for (const planted of [Buffer.alloc(good.length, 0x5a), good]) {
      const target = join(dir, `planted-${++n}.node`);
      writeFileSync(target, planted);
      rmSync(file);
      symlinkSync(target, file);
      expectPong(ping(env));
      expect(verifiedAddon(cache)).to.equal(file);
      expect(readFileSync(target).equals(planted), 'target untouched').to.equal(true);
    }
  });

  it('replaces a file at the name that others may write', () => {
    const { env, cache, file } = warmed();
    chmodSync(file, 0o666);
    expectPong(ping(env));
    expect(modeOf(verifiedAddon(cache)) & 0o022).to.equal(0);
  });

  it('replaces a file at the name that has another name too (a hard link someone kept)', () => {
    const { env, cache, file, good } = warmed();
    const kept = join(dir, `kept-${++n}.node`);
    linkSync(file, kept);
    expectPong(ping(env));
    expect(statSync(verifiedAddon(cache)).nlink).to.equal(1);
    expect(readFileSync(kept).equals(good)).to.equal(true);
  });

  it('makes a cache folder of its own with mode 0777 private (0700)', () => {
    const { env, cache } = fresh();
    mkdirSync(cache, { recursive: true });
    chmodSync(cache, 0o777);
    expectPong(ping(env));
    expect(modeOf(cache).toString(8)).to.equal('700');
    verifiedAddon(cache);
  });

  it('does not use a cache folder that is a symbolic link (its target stays empty)', () => {
    const { env, cache, tmp } = fresh();
    const elsewhere = join(dir, `elsewhere-${++n}`);
    mkdirSync(elsewhere, { mode: 0o700 });
    mkdirSync(join(cache, '..'), { recursive: true });
    symlinkSync(elsewhere, cache);
    expectPong(ping(env));
    expect(readdirSync(elsewhere)).to.deep.equal([]);
    expect(readlinkSync(cache)).to.equal(elsewhere);
    expect(readdirSync(tmp), 'the private temporary folder is removed').to.deep.equal([]);
  });

  it('does not use a cache folder inside a folder that others can write', () => {
    const { env, xdg, cache, tmp } = fresh();
    mkdirSync(xdg);
    chmodSync(xdg, 0o777); // not sticky: anyone could rename the cache folder and put another in its place
    expectPong(ping(env));
    expect(existsSync(cache) ? readdirSync(cache) : []).to.deep.equal([]);
    expect(readdirSync(tmp)).to.deep.equal([]);
  });

  it('does not use a cache folder that belongs to another user', function () {
    if (!isRoot) this.skip(); // only root can give a folder away
    const { env, cache, tmp } = fresh();
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    chownSync(cache, 65534, 65534);
    expectPong(ping(env));
    expect(readdirSync(cache)).to.deep.equal([]);
    expect(readdirSync(tmp)).to.deep.equal([]);
  });

  it('falls back to a private temporary folder when the cache cannot be made, ignoring a file planted at a shared name', async () => {
    const { file, good } = warmed();
    const name = basename(file);
    const { env, xdg, tmp } = fresh();
    writeFileSync(xdg, 'not a folder'); // so $XDG_CACHE_HOME/whiteroom-store cannot be created
    // What an older binary would have loaded from the temporary folder: same size, not an addon.
    const planted = Buffer.alloc(good.length, 0x5a);
    writeFileSync(join(tmp, name), planted);

    // A serving process: while it runs, the loaded file is a private folder's (Linux shows it).
    const child = spawn(bin, ['--data-dir', join(dir, `data-${++n}`), '--log-level', 'warn'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      const answer = await new Promise<string>((done, fail) => {
        child.stdout.once('data', (d: Buffer) => done(d.toString()));
        child.once('exit', () => fail(new Error(`exited before answering: ${stderr}`)));
        child.stdin.write('{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n');
      });
      expect(JSON.parse(answer).result).to.include({ pong: true });
      if (existsSync(`/proc/${child.pid}/maps`)) {
        const loaded = readFileSync(`/proc/${child.pid}/maps`, 'utf8')
          .split('\n')
          .filter((l) => l.includes('better_sqlite3'))
          .map((l) => l.slice(l.indexOf('/')));
        expect(loaded).to.have.length.greaterThan(0);
        const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const pattern = new RegExp(`^${escape(tmp)}/whiteroom-store-[^/]+/${escape(name)} \\(deleted\\)$`);
        for (const path of loaded) expect(path).to.match(pattern);
      }
      child.stdin.end();
      expect(await exited, stderr).to.equal(0);
    } finally {
      child.kill(); // a no-op once it has exited; a failed check must not leave it running
    }
    expect(readdirSync(tmp), 'only the planted file is left').to.deep.equal([name]);
    expect(readFileSync(join(tmp, name)).equals(planted)).to.equal(true);
  });

  it('exits 1 with one whiteroom-store: line on stderr when no folder works', () => {
    const { env, xdg, tmp } = fresh();
    writeFileSync(xdg, 'not a folder');
    rmSync(tmp, { recursive: true });
    writeFileSync(tmp, 'not a folder either');
    const r = ping(env);
    expect(r.status).to.equal(1);
    expect(String(r.stdout)).to.equal('');
    const lines = String(r.stderr).split('\n');
    expect(lines, String(r.stderr)).to.have.length(2);
    expect(lines[0]).to.match(/^whiteroom-store: cannot load the SQLite addon \(.*ENOTDIR.*\)$/);
    expect(lines[1]).to.equal('');
  });
});
