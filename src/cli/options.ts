/**
 * The command line, parsed by commander (help, version, validation and usage errors for free).
 *
 *   whiteroom-store [--data-dir DIR] [--framing auto|header|ndjson] [--log-level L]
 *                   [--max-message-bytes N] [--synchronous normal|full]
 *   whiteroom-store call METHOD [JSON]
 *
 * Usage errors exit 2, as is usual for command-line tools.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS } from '../log.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../rpc/transport.js';
import type { LevelWithSilent } from 'pino';

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
}

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
       whiteroom-store [options] call METHOD [JSON]
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

const EXAMPLES = `
Examples:
  # serve the default data directory; type one JSON-RPC request per line
  whiteroom-store
  # serve a test folder, from a pipe
  echo '{"jsonrpc":"2.0","id":1,"method":"system.info"}' | whiteroom-store --data-dir /tmp/wr
  # one call, printed as indented JSON
  whiteroom-store --data-dir /tmp/wr call songs.count
  whiteroom-store --data-dir /tmp/wr call songs.get '{"id":"A1"}'

Data directory: --data-dir, else $WHITEROOM_DATA_DIR, else the platform default
(macOS ~/Library/Application Support/White Room, Linux $XDG_DATA_HOME/white-room).
Protocol on stdout, logs on stderr and DIR/logs/persistence.log.`;

/**
 * Parses argv (without node and script). Throws CommanderError for --help and --version
 * (exitCode 0) and for usage errors (exitCode 2); the message is already printed.
 */
export function parseArgs(argv: readonly string[], version: string): Invocation {
  let invocation: Invocation | undefined;
  const program = new Command('whiteroom-store')
    .description('Persistence sidecar of White Room: JSON-RPC 2.0 over stdin/stdout, data in one SQLite database.')
    .version(version, '-V, --version', 'print the version and exit')
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
    .addHelpText('after', EXAMPLES)
    .showHelpAfterError(USAGE)
    .exitOverride()
    .action(() => {
      invocation = { command: 'serve', options: program.opts<ServeOptions>() };
    });
  program
    .command('call')
    .description('open the data directory, make one call, print the result as indented JSON (errors on stderr, exit 1)')
    .argument('<method>', 'method name, e.g. system.info')
    .argument('[json]', 'params as a JSON object')
    .showHelpAfterError(USAGE)
    .exitOverride()
    .action((method: string, params: string | undefined) => {
      invocation = { command: 'call', options: program.opts<ServeOptions>(), method, params };
    });
  program.parse(argv as string[], { from: 'user' });
  if (!invocation) throw new CommanderError(EXIT_USAGE, 'whiteroom-store.noCommand', 'no command');
  return invocation;
}

/** The exit status for a CommanderError: 0 for help and version, 2 for usage errors. */
export function exitCodeOf(err: CommanderError): number {
  return err.exitCode === 0 ? 0 : EXIT_USAGE;
}
