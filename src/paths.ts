/**
 * Where the data lives: `--data-dir` > `WHITEROOM_DATA_DIR` > the platform default.
 *
 * The defaults are the contract's (PROTOCOL.md), which names the folder differently per platform
 * ("White Room" on macOS and Windows, "white-room" on Linux) and uses %APPDATA% (roaming) on
 * Windows; env-paths and similar libraries produce other folders (e.g. %LOCALAPPDATA%\X\Data), so
 * the table is written out here.
 */
import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { notFound } from './errors.js';

export interface DataPaths {
  dataDir: string;
  dbPath: string;
  backupsDir: string;
  exportsDir: string;
  logsDir: string;
  logFile: string;
  /**
   * Where private views of files are made (src/files.ts): the data directory, or, for a store
   * opened read-only (inspect), the temp folder, so that inspect creates nothing beside the data.
   */
  workDir?: string;
}

/** The platform's default data directory. */
export function defaultDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
): string {
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'White Room');
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), 'White Room');
  const xdg = env.XDG_DATA_HOME;
  // XDG: a relative XDG_DATA_HOME is invalid and must be ignored.
  return join(xdg && xdg.startsWith('/') ? xdg : join(home, '.local', 'share'), 'white-room');
}

/** Resolves the data directory from the flag, the environment, or the platform default. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag || env.WHITEROOM_DATA_DIR || defaultDataDir(process.platform, env));
}

/** The layout of a data directory (data.db, backups/, exports/, logs/). */
export function dataPaths(dataDir: string): DataPaths {
  return {
    dataDir,
    dbPath: join(dataDir, 'data.db'),
    backupsDir: join(dataDir, 'backups'),
    exportsDir: join(dataDir, 'exports'),
    logsDir: join(dataDir, 'logs'),
    logFile: join(dataDir, 'logs', 'persistence.log'),
  };
}

/** Creates the data directory and its folders if they are missing. */
export function ensureDataDirs(paths: DataPaths): void {
  for (const dir of [paths.dataDir, paths.backupsDir, paths.exportsDir, paths.logsDir]) mkdirSync(dir, { recursive: true });
}

/** Where a file is written before it is renamed into place: `<path>.tmp-<pid>`. */
export const tempPath = (path: string): string => `${path}.tmp-${process.pid}`;

/** A name tempPath gives (a file still there after a crash was never renamed into place). */
export const TEMP_FILE = /\.tmp-\d+$/;

/**
 * A file a host names: an absolute path, or a name inside `dir` (backups/, exports/). Throws
 * NotFound ({entity, id: path}) when no such file exists.
 */
export function resolveFile(path: string, dir: string, entity: string): string {
  const full = isAbsolute(path) ? path : resolve(dir, path);
  try {
    if (statSync(full).isFile()) return full;
  } catch {
    /* below */
  }
  throw notFound(entity, path);
}
