/**
 * The one place that constructs better-sqlite3 connections. In the packaged binary the native
 * addon is not found by better-sqlite3's usual lookup (there is no node_modules); the binary
 * loads it itself (src/native-addon.ts) and hands it over with setNativeBinding, and every
 * connection made afterwards uses it through better-sqlite3's `nativeBinding` option.
 */
import Database from 'better-sqlite3';

export type Connection = Database.Database;
export type ConnectionOptions = Database.Options;
export const SqliteError = Database.SqliteError;

let nativeBinding: object | undefined;

/** Makes every later connection use `addon` (the module object of better_sqlite3.node). */
export function setNativeBinding(addon: object): void {
  nativeBinding = addon;
}

/** `new Database(path, options)`, with the native addon the process loaded, if any. */
export function connect(path: string, options: ConnectionOptions = {}): Connection {
  return new Database(path, nativeBinding ? { ...options, nativeBinding: nativeBinding as never } : options);
}
