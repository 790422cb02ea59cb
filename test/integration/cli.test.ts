/**
 * The command line a person uses: params of `call` and `inspect` from a file (`@FILE`) or from
 * stdin (`-`) with the text kept as typed, the errors for a file that is missing or not JSON,
 * --help (the method families) and --version (program, schema, SQLite), and the logs on a
 * terminal (readable lines on stderr, JSON lines still in the log file), seen through a
 * pseudo-terminal made by script(1).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSong } from '../helpers/fixtures.js';
import { MAIN_JS, ROOT, runOnce, sidecarCommand } from '../helpers/process.js';
import { Procs } from '../helpers/rpc.js';
import { METHOD_NAMES } from '../../src/generated/types.js';
import { MIGRATIONS } from '../../src/generated/migrations.js';

const procs = new Procs();
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const SCHEMA = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** A song whose structured part holds numbers JSON.parse would change. */
const EXACT =
  '{"item":{"id":"N","name":"Numbers","metadata":{"tempo":120,"timeSignature":[4,4],"tags":[]},"determinismSeed":"1",' +
  '"sections":[{"samplePos":9223372036854775807,"huge":1e400,"neg0":-0}],"roles":[],"projections":[],"mixGraph":{"tracks":[]}}}\n';

describe('call and inspect: params from a file or from stdin', function () {
  this.timeout(60000);
  after(() => procs.cleanupAll());

  it('call METHOD @FILE and call METHOD - pass the text as written (numbers included)', async () => {
    const dir = procs.ownDir('wr-cli-');
    const file = join(procs.ownDir('wr-cli-files-'), 'song.json');
    writeFileSync(file, EXACT);
    const saved = await runOnce(['--data-dir', dir, 'call', 'songs.save', `@${file}`]);
    expect(saved.code, saved.stderr).to.equal(0);
    const got = await runOnce(['--data-dir', dir, 'inspect', 'songs.get', '-'], '{"id":"N"}');
    expect(got.code, got.stderr).to.equal(0);
    expect(got.stdout).to.include('"samplePos": 9223372036854775807').and.include('"huge": 1e400').and.include('"neg0": -0');
    const other = JSON.stringify({ item: makeSong({ id: 'M', name: 'From stdin' }) });
    const piped = await runOnce(['--data-dir', dir, 'call', 'songs.save', '-'], other);
    expect(piped.code, piped.stderr).to.equal(0);
    expect(JSON.parse(piped.stdout).name).to.equal('From stdin');
    // A byte order mark (editors on Windows write one) is not taken for bad JSON.
    writeFileSync(file, `\uFEFF{"id":"M"}`);
    expect(JSON.parse((await runOnce(['--data-dir', dir, 'inspect', 'songs.get', `@${file}`])).stdout).name).to.equal('From stdin');
  });

  it('a missing file, a folder, an empty stdin or text that is not JSON: one line on stderr, exit 2, nothing opened', async () => {
    const dir = procs.ownDir('wr-cli-');
    const files = procs.ownDir('wr-cli-files-');
    const bad = join(files, 'bad.json');
    writeFileSync(bad, '{"item": ');
    const cases: [string[], string, RegExp][] = [
      [['call', 'songs.save', `@${join(files, 'nope.json')}`], '', /cannot read the params file .*nope\.json: no such file/],
      [['call', 'songs.save', `@${files}`], '', /cannot read the params file .*: it is a folder/],
      [['call', 'songs.save', '@'], '', /@ must be followed by a file name/],
      [['inspect', 'songs.get', `@${bad}`], '', /the params in .*bad\.json are not JSON/],
      [['call', 'songs.save', '-'], '', /the params read from stdin are not JSON/],
      [['call', 'songs.get', '{"id":'], '', /the params are not JSON/],
    ];
    const data = join(dir, 'data');
    for (const [args, input, message] of cases) {
      const r = await runOnce(['--data-dir', data, ...args], input);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr.split('\n').filter(Boolean), r.stderr).to.have.length(1);
      expect(r.stderr).to.match(/^whiteroom-store: /).and.match(message);
    }
    expect(existsSync(data), 'the data directory was not even made').to.equal(false);
  });
});

describe('--help and --version', function () {
  this.timeout(30000);

  it('--help lists every method family with its verbs, and points at rpc.discover, docs/api.md and inspect', async () => {
    const r = await runOnce(['--help']);
    expect(r.code).to.equal(0);
    for (const family of new Set(METHOD_NAMES.map((m) => m.split('.')[0]!))) expect(r.stdout, family).to.match(new RegExp(`^  ${family} +\\S`, 'm'));
    const text = r.stdout.replace(/\s+/g, ' ');
    for (const m of METHOD_NAMES) expect(text, m).to.include(m.split('.')[1]);
    expect(r.stdout).to.include('rpc.discover').and.include('docs/api.md').and.include('inspect').and.include('--read-only').and.include('@FILE');
  });

  it('--version names the program, the schema version (latest migration) and the bundled SQLite', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await runOnce([flag]);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^whiteroom-store ${VERSION.replace(/\./g, '\\.')}, schema version ${SCHEMA}, SQLite 3\\.\\d+\\.\\d+\\n$`));
    }
  });
});

/** The shell text of the sidecar command with `args`, each word quoted. */
function shellCommand(args: string[]): string {
  const [cmd, lead] = sidecarCommand();
  return [cmd, ...lead, ...args].map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
}

describe('logs on a terminal', function () {
  this.timeout(60000);
  after(() => procs.cleanupAll());

  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  before(function () {
    // util-linux script(1): -q quiet, -e its exit status, -c the command. Not the BSD one of macOS.
    if (!hasScript || process.platform !== 'linux') this.skip();
  });

  /**
   * Serves DIR with requests from a file and answers into a file, under script(1): stderr alone
   * is the pseudo-terminal. Answers what the terminal showed. `pre` runs before the command.
   */
  function underTerminal(dir: string, pre: string[] = [], env: NodeJS.ProcessEnv = {}): { terminal: string; answers: string } {
    const files = procs.ownDir('wr-cli-tty-');
    const input = join(files, 'in.ndjson');
    const output = join(files, 'out.ndjson');
    writeFileSync(input, '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n');
    const command = `${[...pre, shellCommand(['--data-dir', dir, '--log-level', 'info'])].join(' ')} < '${input}' > '${output}'`;
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm', ...env }, timeout: 30000 });
    expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
    return { terminal: r.stdout, answers: readFileSync(output, 'utf8') };
  }

  it('stderr on a terminal gets readable lines (level, time, message), not JSON; persistence.log keeps JSON lines', () => {
    const dir = procs.ownDir('wr-cli-tty-data-');
    const { terminal, answers } = underTerminal(dir);
    expect(JSON.parse(answers).result.pong).to.equal(true);
    const lines = terminal.replace(/\x1b\[[0-9;]*m/g, '').split(/\r?\n/).filter(Boolean);
    expect(lines.find((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: serving$/.test(l)), terminal).to.be.a('string');
    expect(lines.some((l) => /INFO: closed$/.test(l)), terminal).to.equal(true);
    expect(lines.filter((l) => l.startsWith('{')), 'no JSON line on the terminal').to.deep.equal([]);
    const records = readFileSync(join(dir, 'logs', 'persistence.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => r.msg)).to.include.members(['serving', 'closed']);
  });

  it('stderr that is not a terminal (a pipe, as under the app) keeps JSON lines', async () => {
    const dir = procs.ownDir('wr-cli-tty-data-');
    const r = await runOnce(['--data-dir', dir, '--log-level', 'info'], '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n');
    expect(r.code).to.equal(0);
    const records = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((x) => x.msg)).to.include.members(['serving', 'closed']);
  });

  it('pino-pretty is loaded only when stderr is a terminal (node dist/ only: the binary is one bundle)', function () {
    if (process.env.WHITEROOM_STORE_BIN) this.skip();
    const hooks = procs.ownDir('wr-cli-hooks-');
    const seen = join(hooks, 'resolved.txt');
    writeFileSync(
      join(hooks, 'hooks.mjs'),
      "import { appendFileSync } from 'node:fs';\n" +
        'export async function resolve(specifier, context, next) {\n' +
        `  if (/pino/.test(specifier)) appendFileSync(${JSON.stringify(seen)}, specifier + '\\n');\n` +
        '  return next(specifier, context);\n}\n',
    );
    writeFileSync(join(hooks, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${join(hooks, 'hooks.mjs')}`)});\n`);
    const loaded = (): string[] => (existsSync(seen) ? readFileSync(seen, 'utf8').trim().split('\n') : []);
    const piped = spawnSync(process.execPath, ['--import', join(hooks, 'register.mjs'), MAIN_JS, '--data-dir', procs.ownDir('wr-cli-tty-data-')], {
      input: '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n',
      encoding: 'utf8',
    });
    expect(piped.status, piped.stderr).to.equal(0);
    expect(loaded(), 'pino itself was loaded: the hook works').to.include('pino');
    expect(loaded()).to.not.include('pino-pretty');
    // The same under a terminal: then it is.
    const dir = procs.ownDir('wr-cli-tty-data-');
    const files = procs.ownDir('wr-cli-tty-');
    writeFileSync(join(files, 'in'), '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n');
    const command = `'${process.execPath}' --import '${join(hooks, 'register.mjs')}' '${MAIN_JS}' --data-dir '${dir}' < '${join(files, 'in')}' > '${join(files, 'out')}'`;
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 30000 });
    expect(r.status, r.stdout).to.equal(0);
    expect(loaded()).to.include('pino-pretty');
  });
});
