/**
 * Logging: pino, to stderr and to logs/persistence.log. Never to stdout, which carries protocol
 * messages only. Lines are JSON; both destinations are written synchronously so the last lines
 * before a crash are on disk. On a terminal (stderr is a TTY: a person runs it by hand) stderr
 * gets readable lines instead, made by pino-pretty, which is loaded only then; the file keeps JSON.
 *
 * pino itself is loaded after start-up, because the host waits for the first answer at app
 * launch: at the first turn of the event loop by default, or (`deferLoad`, the server) when `load()`
 * is called, once the first request has been answered. Records logged before then are kept, with
 * their time, and written when it is loaded. `flush()` (which loads it) before exit.
 */
import { renameSync, statSync } from 'node:fs';
import type { DestinationStream, Level, LevelWithSilent, Logger as Pino, StreamEntry } from 'pino';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** persistence.log is rotated to persistence.log.1 at start when it is larger than this. */
export const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

export interface LogOptions {
  level: LevelWithSilent;
  /** logs/persistence.log; omitted: stderr only. */
  file?: string;
  /** Write to stderr too (default true). */
  stderr?: boolean;
  /** Load pino only at `load()` or `flush()`, not at the first turn of the event loop. */
  deferLoad?: boolean;
}

type LogFn = (objOrMsg: object | string, msg?: string) => void;

/** The part of pino's interface the sidecar uses. */
export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** Loads pino now, unless it is loaded or loading already. */
  load(): void;
  /** Loads pino if need be; resolves when every record so far has been written. */
  flush(): Promise<void>;
}

const LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export function createLogger(options: LogOptions): Logger {
  const threshold = options.level === 'silent' ? -1 : LEVELS.indexOf(options.level);
  let pino: Pino | undefined;
  const pending: { level: Level; time: number; args: [object | string, string?] }[] = [];
  let load = (): void => {};
  const loaded = new Promise<void>((resolve, reject) => {
    load = () => {
      load = () => {};
      import('pino')
        .then(async ({ pino: create }) => {
          pino = build(create, options, await prettyStderr(options));
          for (const p of pending.splice(0)) {
            const [obj, msg] = p.args;
            const fields = { ...(typeof obj === 'object' ? obj : {}), loggedAt: new Date(p.time).toISOString() };
            pino[p.level](fields, typeof obj === 'string' ? obj : (msg ?? ''));
          }
          resolve();
        })
        .catch(reject);
    };
  });
  if (!options.deferLoad) setImmediate(() => load());
  // A failure to open the log file must not crash the sidecar; it is reported once on stderr.
  loaded.catch((err: unknown) => process.stderr.write(`whiteroom-store: logging failed: ${String(err)}\n`));
  const logger = {
    load: () => load(),
    flush: () => {
      load();
      return loaded.catch(() => {});
    },
  } as Logger;
  for (const level of LEVELS) {
    const enabled = LEVELS.indexOf(level) <= threshold;
    logger[level] = (obj, msg) => {
      if (!enabled) return;
      if (pino) pino[level](obj as object, msg);
      else pending.push({ level, time: Date.now(), args: [obj, msg] });
    };
  }
  return logger;
}

/**
 * Readable lines for a person at a terminal: pino-pretty (a dynamic import, which the packaged
 * binary's bundle keeps lazy, so nothing of it is loaded when stderr is a pipe, as under the app),
 * writing synchronously like the JSON destination. Undefined when stderr is not a terminal.
 */
async function prettyStderr(options: LogOptions): Promise<DestinationStream | undefined> {
  if (options.stderr === false || !process.stderr.isTTY) return undefined;
  try {
    const { default: pretty } = await import('pino-pretty');
    return pretty({ destination: 2, sync: true, colorize: process.stderr.hasColors(), translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  } catch {
    return undefined; // JSON lines, then: logs must never stop the sidecar
  }
}

function build(create: typeof import('pino').pino, options: LogOptions, pretty?: DestinationStream): Pino {
  const streams: StreamEntry[] = [];
  const level = options.level as StreamEntry['level'];
  if (options.stderr !== false) {
    streams.push({ level, stream: pretty ? keepGoing(pretty as DestinationStream & NodeJS.EventEmitter) : keepGoing(create.destination({ fd: 2, sync: true })) });
  }
  if (options.file) {
    rotate(options.file);
    const file = options.file;
    streams.push({
      level,
      stream: keepGoing(create.destination({ dest: file, sync: true, mkdir: true, append: true }), (err) =>
        process.stderr.write(`whiteroom-store: cannot write ${file} (${err.code ?? err.message}); its records are kept and written when it can\n`),
      ),
    });
  }
  return create(
    { level: options.level, base: { pid: process.pid }, timestamp: create.stdTimeFunctions.isoTime },
    create.multistream(streams),
  );
}

/**
 * A log destination whose failed writes (a full disk) never stop the sidecar: without a listener,
 * the 'error' event of pino's file stream would end the process. The stream keeps what it could not
 * write and writes it with the next record once it can. `report` is told the first error of each
 * run of failures.
 */
function keepGoing<S extends NodeJS.EventEmitter>(stream: S, report: (err: NodeJS.ErrnoException) => void = () => {}): S {
  let failing = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (!failing) report(err);
    failing = true;
  });
  stream.on('write', () => {
    failing = false;
  });
  return stream;
}

function rotate(file: string): void {
  try {
    if (statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.1`);
  } catch {
    /* no log yet */
  }
}
