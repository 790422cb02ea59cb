/**
 * Logging: pino, to stderr and to logs/persistence.log. Never to stdout, which carries protocol
 * messages only. Lines are JSON; both destinations are written synchronously so the last lines
 * before a crash are on disk.
 */
import { renameSync, statSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent, type StreamEntry } from 'pino';

export type { Logger };
export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** persistence.log is rotated to persistence.log.1 at start when it is larger than this. */
export const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

export interface LogOptions {
  level: LevelWithSilent;
  /** logs/persistence.log; omitted: stderr only. */
  file?: string;
  /** Write to stderr too (default true). */
  stderr?: boolean;
}

export function createLogger(options: LogOptions): Logger {
  const streams: StreamEntry[] = [];
  if (options.stderr !== false) streams.push({ level: options.level as StreamEntry['level'], stream: pino.destination({ fd: 2, sync: true }) });
  if (options.file) {
    rotate(options.file);
    streams.push({ level: options.level as StreamEntry['level'], stream: pino.destination({ dest: options.file, sync: true, mkdir: true, append: true }) });
  }
  return pino(
    { level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
}

function rotate(file: string): void {
  try {
    if (statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.1`);
  } catch {
    /* no log yet */
  }
}
