/**
 * The packaged binary (npm run package) is self-contained: copied into an empty folder and run
 * with no node on PATH and no node_modules anywhere near, it answers. Also the command line a
 * person uses by hand: --version, --help, call, usage errors, the terminal hint.
 */
import { MIGRATIONS } from '../../src/generated/migrations.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { ROOT, tempDir } from '../helpers/process.js';

const BUILT = resolve(process.env.WHITEROOM_STORE_BIN ?? join(ROOT, 'dist-bin', 'whiteroom-store'));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('the packaged binary, alone in an empty folder', function () {
  let dir: string;
  let bin: string;
  let env: NodeJS.ProcessEnv;

  before(function () {
    if (!existsSync(BUILT)) {
      // npm test always builds it first (npm run package); this only skips a hand-run mocha.
      this.skip();
    }
    dir = tempDir('wr-bin-');
    mkdirSync(join(dir, 'empty'));
    bin = join(dir, 'empty', 'whiteroom-store');
    copyFileSync(BUILT, bin);
    // No node on PATH, no NODE_PATH, a HOME of its own (so the addon cache starts empty).
    env = { PATH: join(dir, 'no-bin'), HOME: join(dir, 'home'), LANG: 'C' };
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const run = (args: string[], input = ''): ReturnType<typeof spawnSync> =>
    spawnSync(bin, args, { cwd: join(dir, 'empty'), env, input, encoding: 'utf8', timeout: 20000 });

  it('finds no node on its PATH (the test is honest)', () => {
    const r = spawnSync('/bin/sh', ['-c', 'command -v node || echo none'], { env, encoding: 'utf8' });
    expect(r.stdout.trim()).to.equal('none');
  });

  it('--version prints the versions of the program, the schema and the SQLite it carries, and exits 0', () => {
    const r = run(['--version']);
    expect(r.status).to.equal(0);
    const schema = MIGRATIONS[MIGRATIONS.length - 1]!.version;
    expect(String(r.stdout).trim()).to.match(new RegExp(`^whiteroom-store ${VERSION.replace(/\./g, '\\.')}, schema version ${schema}, SQLite 3\\.\\d+\\.\\d+$`));
  });

  it('--help prints usage with examples and exits 0', () => {
    const r = run(['--help']);
    expect(r.status).to.equal(0);
    const out = String(r.stdout);
    for (const flag of ['--data-dir', '--framing', '--log-level', '--max-message-bytes', '--synchronous', '--read-only', 'call', 'inspect', 'rpc.discover']) {
      expect(out).to.include(flag);
    }
    expect(out).to.include('Examples:');
  });

  it('call system.info prints the result as indented JSON and exits 0', () => {
    const data = join(dir, 'data-call');
    const r = run(['--data-dir', data, 'call', 'system.info']);
    expect(r.status, String(r.stderr)).to.equal(0);
    expect(String(r.stdout)).to.match(/^\{\n {2}"name": "whiteroom-store",/);
    const info = JSON.parse(String(r.stdout));
    expect(info).to.include({ version: VERSION, schemaVersion: MIGRATIONS[MIGRATIONS.length - 1]!.version, dataDir: data, framing: 'none' });
    expect(existsSync(join(data, 'data.db'))).to.equal(true);
  });

  it('call with params writes, and a failing call prints the error on stderr and exits 1', () => {
    const data = join(dir, 'data-call2');
    const song = {
      id: 'S1',
      name: 'Solar',
      metadata: { tempo: 160, timeSignature: [4, 4], tags: [] },
      determinismSeed: '1',
      sections: [],
      roles: [],
      projections: [],
      mixGraph: { tracks: [] },
    };
    expect(run(['--data-dir', data, 'call', 'songs.create', JSON.stringify({ item: song })]).status).to.equal(0);
    const got = run(['call', 'songs.get', '{"id":"S1"}', '--data-dir', data]);
    expect(got.status).to.equal(0);
    expect(JSON.parse(String(got.stdout)).name).to.equal('Solar');
    const missing = run(['--data-dir', data, 'call', 'songs.get', '{"id":"nope"}']);
    expect(missing.status).to.equal(1);
    expect(String(missing.stdout)).to.equal('');
    expect(JSON.parse(String(missing.stderr))).to.deep.include({ code: -32001 });
  });

  it('call keeps the numbers of a structured part as typed, and prints them so', () => {
    const data = join(dir, 'data-call3');
    const item = '{"id":"N","name":"Numbers","metadata":{"tempo":120,"timeSignature":[4,4],"tags":[]},"determinismSeed":"1",' +
      '"sections":[{"samplePos":9223372036854775807,"huge":1e400,"neg0":-0}],"roles":[],"projections":[],"mixGraph":{"tracks":[]}}';
    expect(run(['--data-dir', data, 'call', 'songs.save', `{"item":${item}}`]).status).to.equal(0);
    const got = String(run(['--data-dir', data, 'call', 'songs.get', '{"id":"N"}']).stdout);
    expect(got).to.include('"samplePos": 9223372036854775807').and.include('"huge": 1e400').and.include('"neg0": -0');
  });

  it('serves piped NDJSON: one answer per request, exit 0 at end of input', () => {
    const data = join(dir, 'data-pipe');
    const input =
      '{"jsonrpc":"2.0","id":1,"method":"system.info"}\n' + '{"jsonrpc":"2.0","id":2,"method":"songs.count"}\n';
    const r = run(['--data-dir', data, '--log-level', 'warn'], input);
    expect(r.status, String(r.stderr)).to.equal(0);
    const lines = String(r.stdout).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).to.deep.equal([1, 2]);
    expect(lines[0].result.sqliteVersion).to.be.a('string');
    expect(lines[1].result).to.deep.equal({ count: 0 });
    // No terminal: no hint on stderr.
    expect(String(r.stderr)).to.equal('');
  });

  it('writes the SQLite addon once into the per-user cache and reuses it', () => {
    const cache = join(dir, 'home', '.cache', 'whiteroom-store');
    const files = execFileSync('/bin/ls', [cache], { encoding: 'utf8' }).trim().split('\n');
    expect(files).to.have.length(1);
    expect(files[0]).to.match(/^better_sqlite3-[0-9a-f]{16}\.node$/);
    expect(run(['--data-dir', join(dir, 'data-again'), 'call', 'system.ping']).status).to.equal(0);
    expect(execFileSync('/bin/ls', [cache], { encoding: 'utf8' }).trim().split('\n')).to.deep.equal(files);
  });

  it('exits 2 with the usage lines for an unknown flag, a bad value or a missing method', () => {
    for (const args of [['--bogus'], ['--framing', 'xml'], ['--max-message-bytes', '-5'], ['--synchronous', 'off'], ['call']]) {
      const r = run(args);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(String(r.stderr), args.join(' ')).to.include('Usage: whiteroom-store');
      expect(String(r.stdout)).to.equal('');
    }
  });

  it('prints one hint line on stderr when stdin is a terminal', function () {
    if (!existsSync('/usr/bin/script')) this.skip();
    const data = join(dir, 'data-tty');
    // script(1) gives the binary a pseudo-terminal; its output (stdout and stderr) comes back merged.
    const r = spawnSync('/usr/bin/script', ['-qec', `${bin} --data-dir ${data} --log-level warn`, '/dev/null'], {
      env,
      input: '\u0004',
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/whiteroom-store: type one JSON-RPC request per line/);
  });
});
