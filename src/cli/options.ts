/**
 * The command line, parsed by commander (help, version, validation and usage errors for free).
 *
 *   whiteroom-store [--data-dir DIR] [--framing auto|header|ndjson] [--log-level L]
 *                   [--max-message-bytes N] [--synchronous normal|full] [--read-only]
 *   whiteroom-store call METHOD [JSON | @FILE | -]
 *   whiteroom-store inspect [METHOD [JSON | @FILE | -]]     (call, or serve, with --read-only)
 *
 * Usage errors exit 2, as is usual for command-line tools.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS } from '../log.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../rpc/transport.js';
import type { LevelWithSilent } from 'pino';
import { METHOD_NAMES } from '../generated/types.js';

export interface ServeOptions {
  dataDir?: string;
  framing: 'auto' | 'header' | 'ndjson';
  logLevel: LevelWithSilent;
  maxMessageBytes: number;
  synchronous: 'normal' | 'full';
  recentLimit: number;
  /** An automatic backup is taken at start when the newest is older than this; 0: never. */
  autoBackupHours: number;
  /** Writes are refused while the write-ahead log is larger than this many MiB and cannot be reset. */
  maxWalMib: number;
  /** Open the database read-only, beside a sidecar that may serve it (inspect): read methods only. */
  readOnly?: boolean;
}

/**
 * What to do. `params` of a call is the argument as typed: JSON, `@FILE` or `-` (stdin), read
 * by src/cli/params.ts.
 */
export type Invocation =
  | { command: 'serve'; options: ServeOptions }
  | { command: 'call'; options: ServeOptions; method: string; params?: string };

export const EXIT_USAGE = 2;

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('expected a positive whole number of bytes');
  }
  return Number(value);
}

/** Printed after a usage error. */
const USAGE = `Usage: whiteroom-store [--data-dir DIR] [--framing auto|header|ndjson] [--log-level LEVEL]
                       [--max-message-bytes N] [--synchronous normal|full] [--recent-limit N]
                       [--auto-backup-hours H] [--max-wal-mib N]
                       [--read-only]
       whiteroom-store [options] call METHOD [JSON | @FILE | -]
       whiteroom-store [options] inspect [METHOD [JSON | @FILE | -]]
Run whiteroom-store --help for details and examples.`;

function positiveCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 100000) {
    throw new InvalidArgumentError('expected a whole number from 1 to 100000');
  }
  return Number(value);
}

function mebibytes(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1_048_576) {
    throw new InvalidArgumentError('expected a whole number of MiB from 1 to 1048576');
  }
  return Number(value);
}

function hours(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) > 100000) {
    throw new InvalidArgumentError('expected a number of hours from 0 to 100000');
  }
  return Number(value);
}

/** The method families and their verbs, from the generated method list (rpc-schema/methods/). */
function methodFamilies(): string {
  const families = new Map<string, string[]>();
  for (const name of METHOD_NAMES) {
    const dot = name.indexOf('.');
    const family = name.slice(0, dot);
    families.set(family, [...(families.get(family) ?? []), name.slice(dot + 1)]);
  }
  const width = Math.max(...[...families.keys()].map((f) => f.length)) + 2;
  const lines: string[] = [];
  for (const [family, verbs] of families) {
    // Wrapped at 100 columns, continuation lines under the first verb.
    let line = `  ${family.padEnd(width)}`;
    for (const [i, verb] of verbs.entries()) {
      const word = i < verbs.length - 1 ? `${verb}, ` : verb;
      if (line.length + word.length > 100 && line.trim() !== family) {
        lines.push(line.trimEnd());
        line = ' '.repeat(width + 2);
      }
      line += word;
    }
    lines.push(line);
  }
  return lines.join('\n');
}

const examples = (): string => `
Examples:
  # serve the default data directory; type one JSON-RPC request per line
  whiteroom-store
  # serve a test folder, from a pipe
  echo '{"jsonrpc":"2.0","id":1,"method":"system.info"}' | whiteroom-store --data-dir /tmp/wr
  # one call, printed as indented JSON; params as JSON, from a file (@FILE) or from stdin (-)
  whiteroom-store --data-dir /tmp/wr call songs.count
  whiteroom-store --data-dir /tmp/wr call songs.get '{"id":"A1"}'
  whiteroom-store --data-dir /tmp/wr call songs.save @song.json
  # look inside while White Room runs: read methods only, the database opened read-only
  whiteroom-store --data-dir /tmp/wr inspect songs.list '{"limit":5}'
  whiteroom-store --data-dir /tmp/wr inspect system.stats

Methods (family.verb; each one's params, result and errors: call rpc.discover, or read docs/api.md):
${methodFamilies()}

Data directory: --data-dir, else $WHITEROOM_DATA_DIR, else the platform default
(macOS ~/Library/Application Support/White Room, Linux $XDG_DATA_HOME/white-room).
Protocol on stdout, logs on stderr (readable lines on a terminal, else JSON lines) and
DIR/logs/persistence.log (JSON lines; none read-only).`;

/**
 * Parses argv (without node and script). Throws CommanderError for --help and --version
 * (exitCode 0) and for usage errors (exitCode 2); the message is already printed. `version` is
 * what --version prints: a function is called only then (it may load SQLite to name its version).
 */
export function parseArgs(argv: readonly string[], version: string | (() => string)): Invocation {
  let invocation: Invocation | undefined;
  const program = new Command('whiteroom-store')
    .description('Persistence sidecar of White Room: JSON-RPC 2.0 over stdin/stdout, data in one SQLite database.')
    .addOption(new Option('-V, --version', 'print the versions (program, database schema, SQLite) and exit'))
    .helpOption('-h, --help', 'print this help and exit')
    .addOption(new Option('--data-dir <dir>', 'data directory (data.db, backups/, exports/, logs/)'))
    .addOption(
      new Option('--framing <framing>', 'message framing; auto detects it from the first byte')
        .choices(['auto', 'header', 'ndjson'])
        .default('auto'),
    )
    .addOption(new Option('--log-level <level>', 'log level of stderr and persistence.log').choices(LOG_LEVELS).default('info'))
    .addOption(
      new Option('--max-message-bytes <n>', 'largest message accepted; larger ones are answered -32600')
        .argParser(positiveInteger)
        .default(DEFAULT_MAX_MESSAGE_BYTES, '64 MiB'),
    )
    .addOption(
      new Option('--synchronous <mode>', 'normal: a commit survives a crash; full: it survives a power cut too')
        .choices(['normal', 'full'])
        .default('normal'),
    )
    .addOption(
      new Option('--recent-limit <n>', 'recently used entries kept per item type').argParser(positiveCount).default(50),
    )
    .addOption(
      new Option('--auto-backup-hours <h>', 'take an automatic backup at start when the newest is older than this (0: never)')
        .argParser(hours)
        .default(24),
    )
    .addOption(
      new Option('--max-wal-mib <n>', 'refuse writes while the write-ahead log is past this size and another program pins it')
        .argParser(mebibytes)
        .default(1024, '1024 (1 GiB)'),
    )
    .addOption(
      new Option('--read-only', 'open the database read-only beside the sidecar serving it: read methods only, nothing written (as inspect)'),
    )
    .addHelpText('after', examples)
    .showHelpAfterError(USAGE)
    .exitOverride()
    .action(() => {
      invocation = { command: 'serve', options: serveOptions() };
    });
  // --version as commander's own does it (at once, exit 0), with a text made only when asked.
  program.on('option:version', () => {
    process.stdout.write(`${typeof version === 'function' ? version() : version}\n`);
    throw new CommanderError(0, 'commander.version', 'version');
  });
  const serveOptions = (): ServeOptions => {
    const { version: _flag, ...options } = program.opts<ServeOptions & { version?: boolean }>();
    return options;
  };
  program
    .command('call')
    .description('open the data directory, make one call, print the result as indented JSON (errors on stderr, exit 1)')
    .argument('<method>', 'method name, e.g. system.info')
    .argument('[json]', 'params: a JSON object, @FILE (read from FILE) or - (read from stdin)')
    .showHelpAfterError(USAGE)
    .exitOverride()
    .action((method: string, params: string | undefined) => {
      invocation = { command: 'call', options: serveOptions(), method, params };
    });
  program
    .command('inspect')
    .description(
      'open data.db read-only beside the app that may be serving it (no lock, nothing written): with a method, ' +
        'one call as `call` makes it; without, serve JSON-RPC on stdin. Only read methods; the others are refused (-32013)',
    )
    .argument('[method]', 'method name, e.g. songs.list')
    .argument('[json]', 'params: a JSON object, @FILE or -')
    .showHelpAfterError(USAGE)
    .exitOverride()
    .action((method: string | undefined, params: string | undefined) => {
      const options = { ...serveOptions(), readOnly: true };
      invocation = method === undefined ? { command: 'serve', options } : { command: 'call', options, method, params };
    });
  program.parse(argv as string[], { from: 'user' });
  if (!invocation) throw new CommanderError(EXIT_USAGE, 'whiteroom-store.noCommand', 'no command');
  return invocation;
}

/** The exit status for a CommanderError: 0 for help and version, 2 for usage errors. */
export function exitCodeOf(err: CommanderError): number {
  return err.exitCode === 0 ? 0 : EXIT_USAGE;
}
