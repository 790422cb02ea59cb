#!/usr/bin/env node
/**
 * The composition root: parses the command line, opens the data directory, and serves JSON-RPC on
 * stdin/stdout until system.shutdown, end of input, SIGTERM or SIGINT. Everything is built here,
 * explicitly; nothing else holds global state.
 *
 * Exit status: 0 after an orderly shutdown; 1 when the data directory cannot be served (another
 * instance holds it, a newer schema, a damaged file), with one line on stderr saying why;
 * 2 for a usage error.
 */
import { appendFileSync } from 'node:fs';
import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { rememberText, stringifyAnswer } from './json-text.js';
import { CommanderError } from 'commander';
import { openApp, VERSION, type App } from './app.js';
import { exitCodeOf, parseArgs, type Invocation, type ServeOptions } from './cli/options.js';
import { paramsText } from './cli/params.js';
import { versionLine } from './cli/version.js';
import { createLogger, type Logger } from './log.js';
import { dataPaths, ensureDataDirs, resolveDataDir } from './paths.js';
import { errorResponse } from './rpc/dispatcher.js';
import { Server } from './rpc/server.js';
import {
  detectFraming,
  HeaderMessageReader,
  NdjsonMessageReader,
  StreamMessageWriter,
  type Framing,
} from './rpc/transport.js';
import { shuttingDown, RpcError, ErrorCode } from './errors.js';
import { loadEmbeddedAddon } from './store/native-addon.js';
import { setNativeBinding } from './store/sqlite.js';
import { diskFullAtStart } from './store/sqlite-errors.js';

/** How long the last answers may wait at shutdown for a host that does not read stdout: 5 s. */
const OUTPUT_FLUSH_LIMIT_MS = 5000;

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const MIB = 1024 * 1024;
/** How long after start the automatic backup (when one is due) is taken. */
const AUTO_BACKUP_DELAY_MS = 2000;
/**
 * The logger (pino) is loaded once the first input has been answered, which the host waits for at
 * app launch; or after this long without input, so that records of the start are not kept in
 * memory for long.
 */
const LOGGER_IDLE_LOAD_MS = 50;

/**
 * Refusal to serve: exactly one clear line on stderr (what a person reads), the full record with
 * its stack in logs/persistence.log (what a developer reads), exit status 1.
 */
function fatal(logFile: string | undefined, err: unknown, dataDir?: string): never {
  // Before the data directory is open (its folders, the log file), a full disk is said as such too.
  const full = dataDir === undefined ? undefined : diskFullAtStart(err, dataDir);
  const message = full ?? (err instanceof Error ? err.message : String(err));
  if (logFile) {
    const record = { level: 60, time: new Date().toISOString(), pid: process.pid, msg: 'cannot serve', err: errorRecord(err) };
    try {
      appendFileSync(logFile, `${JSON.stringify(record)}\n`);
    } catch {
      /* the line on stderr is what matters */
    }
  }
  process.stderr.write(`whiteroom-store: ${message}\n`);
  process.exit(EXIT_FAILURE);
}

function errorRecord(err: unknown): object {
  return err instanceof Error ? { type: err.name, message: err.message, stack: err.stack } : { message: String(err) };
}

function openLogger(options: ServeOptions, dataDir: string): Logger {
  const paths = dataPaths(dataDir);
  ensureDataDirs(paths);
  return createLogger({ level: options.logLevel, file: paths.logFile, deferLoad: true });
}

async function serve(options: ServeOptions): Promise<void> {
  const dataDir = resolveDataDir(options.dataDir);
  let log: Logger | undefined;
  let framing: Framing | undefined = options.framing === 'auto' ? undefined : options.framing;
  let shutdown: (reason: string) => void = () => {};
  let app: App;
  try {
    // Read-only (inspect), nothing is written in the data directory: logs go to stderr only.
    log = options.readOnly ? createLogger({ level: options.logLevel }) : openLogger(options, dataDir);
    app = await openApp({
      readOnly: options.readOnly,
      dataDir,
      synchronous: options.synchronous,
      recentPerType: options.recentLimit,
      autoBackupHours: options.autoBackupHours,
      maxWalBytes: options.maxWalMib * MIB,
      log,
      framing: () => framing ?? 'none',
      requestShutdown: () => shutdown('system.shutdown'),
    });
  } catch (err) {
    fatal(options.readOnly ? undefined : dataPaths(dataDir).logFile, err, dataDir);
  }
  const logger = log!;
  logger.info({ version: VERSION, dataDir, ...(options.readOnly ? { readOnly: true } : {}) }, 'serving');

  if (process.stdin.isTTY) {
    process.stderr.write(
      `whiteroom-store: type one JSON-RPC request per line, e.g. {"jsonrpc":"2.0","id":1,"method":"system.info"}; Ctrl-D to quit${options.readOnly ? ' (read-only: read methods only, nothing written)' : ''}\n`,
    );
  }

  let server: Server | undefined;
  let writer: StreamMessageWriter | undefined;
  let stopping = false;
  shutdown = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    app.dispatcher.refuseAll(shuttingDown());
    void (async () => {
      let code = EXIT_OK;
      try {
        // Let the request that is running (and its answer) finish, refuse what is queued.
        await server?.idle();
        server?.refuseQueued(shuttingDown());
        await app.drain();
        app.close();
        logger.info('closed');
      } catch (err) {
        code = EXIT_FAILURE;
        logger.error({ err }, 'shutdown failed');
      }
      await logger.flush();
      // Everything is durable and closed by now: the last answers are owed to a host that reads
      // them, but a host that stopped reading stdout must not keep the process alive for ever.
      await Promise.race([writer?.flush(), new Promise((resolve) => setTimeout(resolve, OUTPUT_FLUSH_LIMIT_MS).unref())]);
      process.exit(code);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  const idleLoad = setTimeout(() => logger.load(), LOGGER_IDLE_LOAD_MS);
  framing ??= await detectFraming(process.stdin);
  clearTimeout(idleLoad);
  if (!framing) return shutdown('stdin closed before any message');
  if (stopping) return;

  const maxBytes = options.maxMessageBytes;
  const reader =
    framing === 'header' ? new HeaderMessageReader(process.stdin, maxBytes) : new NdjsonMessageReader(process.stdin, maxBytes);
  writer = new StreamMessageWriter(process.stdout, framing);
  server = new Server({
    reader,
    writer,
    dispatcher: app.dispatcher,
    log: logger,
    onInputEnd: () => shutdown('stdin closed'),
    onOutputError: (err) => {
      logger.warn({ err }, 'stdout failed; the host has gone');
      shutdown('stdout closed');
    },
  });
  const s = server;
  app.store.onCommit((changes) => {
    for (const change of changes) s.notify('store.changed', change);
  });
  app.setRunner((job) => s.schedule(job));
  app.setNotifier((method, params) => s.notify(method, params));
  // The daily backup waits until the host is past its start-up requests, starts in its turn in the
  // queue, and then runs beside it like backup.create: the host's requests are not held up.
  setTimeout(
    () =>
      s.schedule(() => {
        void app.automaticBackup();
      }),
    AUTO_BACKUP_DELAY_MS,
  ).unref();
  app.services.autosave.onSaved(({ songId, performanceId, autosaveId, at, rowWritten, reason, revision, performanceRevision }) =>
    s.notify('autosave.saved', {
      songId,
      ...(performanceId === undefined ? {} : { performanceId }),
      autosaveId,
      at,
      rowWritten,
      ...(reason === undefined ? {} : { reason }),
      revision,
      ...(performanceRevision === undefined ? {} : { performanceRevision }),
    }),
  );
  server.start();
  // The input that was waiting has been answered by the next turn of the event loop.
  setImmediate(() => logger.load());
}

/** `whiteroom-store call METHOD [JSON]`: one request, the result on stdout, the error on stderr. */
async function call(options: ServeOptions, method: string, paramsText: string | undefined): Promise<void> {
  let params: unknown;
  if (paramsText !== undefined) {
    try {
      params = JSON.parse(paramsText);
    } catch (err) {
      process.stderr.write(`whiteroom-store: the params are not JSON: ${(err as Error).message}\n`);
      process.exit(2);
    }
  }
  const dataDir = resolveDataDir(options.dataDir);
  const logFile = options.readOnly ? undefined : dataPaths(dataDir).logFile;
  const log = createLogger({ level: options.logLevel === 'info' ? 'warn' : options.logLevel, ...(logFile ? { file: logFile } : {}) });
  let app: App;
  try {
    app = await openApp({ readOnly: options.readOnly, dataDir, synchronous: options.synchronous, recentPerType: options.recentLimit, maxWalBytes: options.maxWalMib * MIB, log, framing: () => 'none', requestShutdown: () => {} });
  } catch (err) {
    fatal(logFile, err, dataDir);
  }
  let response;
  try {
    const message = { jsonrpc: '2.0' as const, id: 1, method, ...(params === undefined ? {} : { params }) };
    // The params as typed: a structured part keeps its numbers as written, as from a host.
    if (paramsText !== undefined) rememberText(message, `{"params":${paramsText}}`);
    response = await app.dispatcher.handle(message);
  } catch (err) {
    response = errorResponse(1, new RpcError(ErrorCode.InternalError, String(err)));
  } finally {
    app.close();
  }
  const r = Array.isArray(response) ? response[0] : response;
  if (r?.error) {
    process.stderr.write(`${JSON.stringify(r.error, null, 2)}\n`);
    process.exitCode = EXIT_FAILURE;
  } else {
    // Indented for a person, every number and string as stored (json-text.ts).
    process.stdout.write(`${stringifyLossless(parseLossless(stringifyAnswer(r?.result ?? null)), null, 2)}\n`);
  }
}

async function main(): Promise<void> {
  let invocation: Invocation;
  try {
    invocation = parseArgs(process.argv.slice(2), versionLine);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(exitCodeOf(err));
    throw err;
  }
  const addon = loadEmbeddedAddon();
  if (addon) setNativeBinding(addon);
  if (invocation.command === 'call') await call(invocation.options, invocation.method, paramsText(invocation.params));
  else await serve(invocation.options);
}

main().catch((err: unknown) => {
  process.stderr.write(`whiteroom-store: unexpected failure: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(EXIT_FAILURE);
});
