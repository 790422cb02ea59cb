/**
 * The command line (src/cli/options.ts) and the data directory (src/paths.ts).
 */
import { expect } from 'chai';
import { join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { CommanderError } from 'commander';
import { exitCodeOf, parseArgs, EXIT_USAGE, type Invocation } from '../../src/cli/options.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/rpc/transport.js';
import { dataPaths, defaultDataDir, resolveDataDir } from '../../src/paths.js';

const VERSION = '9.8.7';

/** Runs `fn` with stdout and stderr captured (commander prints help, versions and usage errors). */
function captured<T>(fn: () => T): { value?: T; error?: any; stdout: string; stderr: string } {
  const out: string[] = [];
  const err: string[] = [];
  const realOut = process.stdout.write;
  const realErr = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { value: fn(), stdout: out.join(''), stderr: err.join('') };
  } catch (error) {
    return { error, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
}

/** parseArgs that must succeed, printing nothing. */
function parse(argv: string[]): Invocation {
  const r = captured(() => parseArgs(argv, VERSION));
  if (r.error) throw r.error;
  expect(r.stdout + r.stderr, 'printed output').to.equal('');
  return r.value!;
}

/** parseArgs that must fail with a usage error (CommanderError, exit status 2, message on stderr). */
function usageError(argv: string[]): CommanderError & { stderr: string } {
  const r = captured(() => parseArgs(argv, VERSION));
  expect(r.error, `${argv.join(' ')} should be refused`).to.be.instanceOf(CommanderError);
  expect(exitCodeOf(r.error), argv.join(' ')).to.equal(EXIT_USAGE);
  expect(r.stdout, 'stdout must stay clean on a usage error').to.equal('');
  return Object.assign(r.error, { stderr: r.stderr });
}

describe('cli: parseArgs', () => {
  it('with no arguments serves with the defaults', () => {
    expect(parse([])).to.deep.equal({
      command: 'serve',
      options: { framing: 'auto', logLevel: 'info', maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, synchronous: 'normal', recentLimit: 50, autoBackupHours: 24, maxWalMib: 1024 },
    });
    expect(DEFAULT_MAX_MESSAGE_BYTES).to.equal(64 * 1024 * 1024);
  });

  it('reads every serve option', () => {
    expect(
      parse([
        '--data-dir',
        '/tmp/wr',
        '--framing',
        'header',
        '--log-level',
        'debug',
        '--max-message-bytes',
        '1024',
        '--synchronous',
        'full',
        '--auto-backup-hours',
        '0.5',
      ]),
    ).to.deep.equal({
      command: 'serve',
      options: { dataDir: '/tmp/wr', framing: 'header', logLevel: 'debug', maxMessageBytes: 1024, synchronous: 'full', recentLimit: 50, autoBackupHours: 0.5, maxWalMib: 1024 },
    });
    expect(parse(['--framing=ndjson']).options.framing).to.equal('ndjson');
  });

  it('refuses values outside the choices of --framing, --log-level and --synchronous', () => {
    for (const argv of [['--framing', 'xml'], ['--log-level', 'loud'], ['--synchronous', 'extra']]) {
      const err = usageError(argv);
      expect(err.code).to.equal('commander.invalidArgument');
      expect(err.stderr).to.include(argv[1]!);
    }
  });

  it('--max-message-bytes must be a positive whole number', () => {
    for (const bad of ['0', '-5', '1.5', 'abc', '', '1e6', '9007199254740993']) {
      const err = usageError([`--max-message-bytes=${bad}`]);
      expect(err.code, bad).to.equal('commander.invalidArgument');
    }
    expect(parse(['--max-message-bytes', '1']).options.maxMessageBytes).to.equal(1);
  });

  it('--max-wal-mib is a whole number of MiB from 1 to 1048576 (default 1024)', () => {
    for (const bad of ['0', '-1', '1.5', 'abc', '1048577']) expect(usageError([`--max-wal-mib=${bad}`]).code, bad).to.equal('commander.invalidArgument');
    expect(parse(['--max-wal-mib', '4']).options.maxWalMib).to.equal(4);
  });

  it('call METHOD [JSON] makes one call, with or without params', () => {
    expect(parse(['call', 'songs.get', '{"id":"A1"}'])).to.deep.equal({
      command: 'call',
      options: { framing: 'auto', logLevel: 'info', maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, synchronous: 'normal', recentLimit: 50, autoBackupHours: 24, maxWalMib: 1024 },
      method: 'songs.get',
      params: '{"id":"A1"}',
    });
    const noParams = parse(['call', 'songs.count']);
    expect(noParams.command).to.equal('call');
    expect(noParams).to.include({ method: 'songs.count' });
    expect((noParams as { params?: string }).params).to.equal(undefined);
  });

  it('options may come before or after the call subcommand', () => {
    const before = parse(['--data-dir', '/d1', '--log-level', 'warn', 'call', 'system.info']);
    expect(before.options).to.include({ dataDir: '/d1', logLevel: 'warn' });
    const after = parse(['call', 'system.info', '--data-dir', '/d2', '--synchronous', 'full']);
    expect(after.command).to.equal('call');
    expect(after.options).to.include({ dataDir: '/d2', synchronous: 'full' });
    expect(after).to.include({ method: 'system.info' });
  });

  it('call without a method, or with too many arguments, is a usage error', () => {
    expect(usageError(['call']).code).to.equal('commander.missingArgument');
    usageError(['call', 'a', '{}', 'extra']);
  });

  it('an unknown flag is a CommanderError mapped to exit status 2, with a hint on stderr', () => {
    const err = usageError(['--bogus']);
    expect(err.code).to.equal('commander.unknownOption');
    expect(err.stderr).to.include('--bogus');
    expect(err.stderr).to.include('--help');
    expect(usageError(['call', 'songs.count', '--nope']).code).to.equal('commander.unknownOption');
  });

  it('an unknown subcommand is a usage error', () => {
    usageError(['serve-forever']);
  });

  it('--help prints usage on stdout and throws CommanderError with exit code 0', () => {
    for (const flag of ['--help', '-h']) {
      const r = captured(() => parseArgs([flag], VERSION));
      expect(r.error).to.be.instanceOf(CommanderError);
      expect(r.error.exitCode).to.equal(0);
      expect(r.error.code).to.equal('commander.helpDisplayed');
      expect(exitCodeOf(r.error)).to.equal(0);
      expect(r.stdout).to.include('--data-dir');
      expect(r.stdout).to.include('--max-message-bytes');
      expect(r.stdout).to.include('call');
      expect(r.stderr).to.equal('');
    }
  });

  it('--version prints the version on stdout and throws CommanderError with exit code 0', () => {
    for (const flag of ['--version', '-V']) {
      const r = captured(() => parseArgs([flag], VERSION));
      expect(r.error).to.be.instanceOf(CommanderError);
      expect(r.error.exitCode).to.equal(0);
      expect(r.error.code).to.equal('commander.version');
      expect(exitCodeOf(r.error)).to.equal(0);
      expect(r.stdout.trim()).to.equal(VERSION);
    }
  });

  it('--version calls a version function only then (it loads SQLite to name its version)', () => {
    let calls = 0;
    const line = (): string => `whiteroom-store ${VERSION}, schema version 6, SQLite 3.0.0 (${++calls})`;
    expect(captured(() => parseArgs(['call', 'system.info'], line)).error).to.equal(undefined);
    expect(calls).to.equal(0);
    const r = captured(() => parseArgs(['--version'], line));
    expect(r.error.code).to.equal('commander.version');
    expect(r.stdout).to.equal(`whiteroom-store ${VERSION}, schema version 6, SQLite 3.0.0 (1)\n`);
    expect(calls).to.equal(1);
  });

  it('inspect METHOD [JSON] is a call with readOnly; inspect alone serves read-only; --read-only is the same flag', () => {
    expect(parse(['inspect', 'songs.list', '{"limit":5}'])).to.deep.include({ command: 'call', method: 'songs.list', params: '{"limit":5}' });
    expect(parse(['inspect', 'songs.list']).options.readOnly).to.equal(true);
    expect(parse(['--data-dir', '/d', 'inspect', 'system.stats']).options).to.include({ dataDir: '/d', readOnly: true });
    const served = parse(['inspect']);
    expect(served.command).to.equal('serve');
    expect(served.options.readOnly).to.equal(true);
    expect(parse(['--read-only']).options.readOnly).to.equal(true);
    expect(parse(['--read-only', 'call', 'songs.count']).options.readOnly).to.equal(true);
    expect(parse([]).options.readOnly).to.equal(undefined);
    expect(parse(['call', 'songs.save', '@song.json'])).to.deep.include({ params: '@song.json' });
    usageError(['inspect', 'a', '{}', 'extra']);
  });

  it('exitCodeOf maps 0 to 0 and any other exit code to 2', () => {
    expect(exitCodeOf(new CommanderError(0, 'x', 'y'))).to.equal(0);
    expect(exitCodeOf(new CommanderError(1, 'x', 'y'))).to.equal(2);
    expect(exitCodeOf(new CommanderError(2, 'x', 'y'))).to.equal(2);
    expect(exitCodeOf(new CommanderError(127, 'x', 'y'))).to.equal(2);
  });
});

describe('paths: the platform default data directory', () => {
  it('macOS: ~/Library/Application Support/White Room', () => {
    expect(defaultDataDir('darwin', {}, '/Users/ann')).to.equal(join('/Users/ann', 'Library', 'Application Support', 'White Room'));
    expect(defaultDataDir('darwin', { XDG_DATA_HOME: '/xdg', APPDATA: '/appdata' }, '/Users/ann')).to.equal(
      join('/Users/ann', 'Library', 'Application Support', 'White Room'),
    );
  });

  it('Linux: $XDG_DATA_HOME/white-room when XDG_DATA_HOME is set', () => {
    expect(defaultDataDir('linux', { XDG_DATA_HOME: '/data/xdg' }, '/home/ann')).to.equal('/data/xdg/white-room');
  });

  it('Linux: ~/.local/share/white-room when XDG_DATA_HOME is unset or empty', () => {
    expect(defaultDataDir('linux', {}, '/home/ann')).to.equal('/home/ann/.local/share/white-room');
    expect(defaultDataDir('linux', { XDG_DATA_HOME: '' }, '/home/ann')).to.equal('/home/ann/.local/share/white-room');
  });

  it('Linux: a relative XDG_DATA_HOME is ignored', () => {
    expect(defaultDataDir('linux', { XDG_DATA_HOME: 'relative/dir' }, '/home/ann')).to.equal('/home/ann/.local/share/white-room');
    expect(defaultDataDir('linux', { XDG_DATA_HOME: './x' }, '/home/ann')).to.equal('/home/ann/.local/share/white-room');
  });

  it('Windows: %APPDATA%\\White Room, falling back to the roaming folder under the home directory', () => {
    const appData = 'C:\\Users\\ann\\AppData\\Roaming';
    expect(defaultDataDir('win32', { APPDATA: appData }, 'C:\\Users\\ann')).to.equal(join(appData, 'White Room'));
    expect(defaultDataDir('win32', {}, 'C:\\Users\\ann')).to.equal(join('C:\\Users\\ann', 'AppData', 'Roaming', 'White Room'));
    expect(defaultDataDir('win32', { XDG_DATA_HOME: '/xdg' }, 'C:\\Users\\ann')).to.not.include('xdg');
  });

  it('other platforms follow the Linux rules; the home directory defaults to the real one', () => {
    expect(defaultDataDir('freebsd', {}, '/home/b')).to.equal('/home/b/.local/share/white-room');
    expect(defaultDataDir('darwin', {})).to.equal(join(homedir(), 'Library', 'Application Support', 'White Room'));
  });
});

describe('paths: resolving and laying out the data directory', () => {
  it('--data-dir wins over WHITEROOM_DATA_DIR and the default, and is made absolute', () => {
    expect(resolveDataDir('/flag/dir', { WHITEROOM_DATA_DIR: '/env/dir' })).to.equal('/flag/dir');
    expect(resolveDataDir('rel/dir', {})).to.equal(resolve(process.cwd(), 'rel/dir'));
  });

  it('WHITEROOM_DATA_DIR is used when there is no flag', () => {
    expect(resolveDataDir(undefined, { WHITEROOM_DATA_DIR: '/env/dir', XDG_DATA_HOME: '/xdg' })).to.equal('/env/dir');
    expect(resolveDataDir('', { WHITEROOM_DATA_DIR: '/env/dir' })).to.equal('/env/dir');
  });

  it('without flag or variable it is the platform default for the given environment', () => {
    const env = { XDG_DATA_HOME: '/xdg/home', APPDATA: '/appdata' };
    expect(resolveDataDir(undefined, env)).to.equal(resolve(defaultDataDir(process.platform, env)));
    expect(resolveDataDir(undefined, { WHITEROOM_DATA_DIR: '' , ...env })).to.equal(resolve(defaultDataDir(process.platform, env)));
    if (process.platform === 'linux') expect(resolveDataDir(undefined, env)).to.equal('/xdg/home/white-room');
  });

  it('dataPaths lays out data.db, backups/, exports/ and logs/persistence.log', () => {
    expect(dataPaths('/d')).to.deep.equal({
      dataDir: '/d',
      dbPath: join('/d', 'data.db'),
      backupsDir: join('/d', 'backups'),
      exportsDir: join('/d', 'exports'),
      logsDir: join('/d', 'logs'),
      logFile: join('/d', 'logs', 'persistence.log'),
    });
  });
});
