/**
 * Small tools the tests share: catching what a call throws, the stock sqlite3 CLI, file hashes
 * and listings, deterministic garbage, damaging bytes of a file, sleeping.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/generated/migrations.js';

/** What `fn` throws; fails the test when it throws nothing. */
export function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

/** What `p` rejects with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** Runs the stock sqlite3 binary on `file`; its output, trimmed. Throws (with its stderr) when it fails. */
export const sqlite3 = (file: string, sql: string): string =>
  execFileSync('sqlite3', [file, sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

export const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
export const sha256File = (path: string): string => sha256(readFileSync(path));

/** The names in `dir`, sorted. */
export const ls = (dir: string): string[] => readdirSync(dir).sort();

/** Fixed pseudo-random bytes (an LCG), so a "garbage" file is the same on every run. */
export function garbage(n: number, seed = 12345): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Overwrites bytes [from, to) of `path` with `byte`. */
export function scribble(path: string, from: number, to: number, byte = 0xa5): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.alloc(to - from, byte), 0, to - from, from);
  } finally {
    closeSync(fd);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A database file at schema `version`, as an older whiteroom-store left it: the migrations up to
 * it, each recorded in user_version. The caller adds rows and closes it.
 */
export function databaseAt(path: string, version: number): Database.Database {
  const db = new Database(path);
  for (const m of MIGRATIONS.filter((x) => x.version <= version)) {
    db.exec(m.sql);
    db.pragma(`user_version = ${m.version}`);
  }
  return db;
}
