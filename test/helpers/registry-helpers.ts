/**
 * Small helpers for the instrument registry tests (instruments.*, voices.*, presets.*): calls whose
 * results are checked against their result schemas, expected errors, store.changed tracking, and
 * SQLite's own checks on a stopped data directory.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export { ok, fails, invalid, tracked, normalized, type Change } from './rpc.js';

/** The item without the fields the store adds (for update/save round-trips). */
export function content(stored: Record<string, any>): Record<string, any> {
  const { createdAt: _c, updatedAt: _u, revision: _r, ...rest } = stored;
  return rest;
}

/** Runs SQL through the sqlite3 command-line tool on a stopped data directory's data.db. */
export function sqlite3(dataDir: string, sql: string): string {
  return execFileSync('sqlite3', [join(dataDir, 'data.db'), sql], { encoding: 'utf8' }).trim();
}
