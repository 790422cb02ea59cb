/**
 * One sidecar per data directory (src/store/lock.ts). SQLite's EXCLUSIVE locking mode is per
 * connection, and SQLite tracks POSIX locks per connection inside one process too, so a second
 * lock in the same process is refused just as one from another process would be.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DataDirLockedError, LOCK_FILE, PID_FILE, lockDataDir, type DataDirLock } from '../../src/store/lock.js';
import { tempDir } from '../helpers/unit-store.js';

describe('lockDataDir', () => {
  let tmp: ReturnType<typeof tempDir>;
  const held: DataDirLock[] = [];
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    for (const l of held.splice(0)) l.release();
    tmp.cleanup();
  });
  const lock = (dir = tmp.dir): DataDirLock => {
    const l = lockDataDir(dir);
    held.push(l);
    return l;
  };

  it('takes the lock on a fresh directory, creating the lock file and writing the pid file', () => {
    lock();
    expect(existsSync(join(tmp.dir, LOCK_FILE))).to.equal(true);
    expect(readFileSync(join(tmp.dir, PID_FILE), 'utf8')).to.equal(`${process.pid}\n`);
  });

  it('a second lock on the same directory is refused at once with DataDirLockedError naming the holder', () => {
    lock();
    const started = Date.now();
    let err: unknown;
    try {
      lock();
    } catch (e) {
      err = e;
    }
    expect(Date.now() - started).to.be.lessThan(1000);
    expect(err).to.be.instanceOf(DataDirLockedError);
    expect((err as Error).name).to.equal('DataDirLockedError');
    expect((err as Error).message).to.include(tmp.dir);
    expect((err as Error).message).to.include(`pid ${process.pid}`);
    expect((err as Error).message).to.match(/--data-dir/);
  });

  it('a refused lock leaves the holder in place: a third attempt is refused too', () => {
    lock();
    expect(() => lock()).to.throw(DataDirLockedError);
    expect(() => lock()).to.throw(DataDirLockedError);
  });

  it('releasing the lock lets a new lock be taken; release is idempotent', () => {
    const first = lock();
    first.release();
    first.release();
    const second = lock();
    expect(() => lock()).to.throw(DataDirLockedError);
    second.release();
    lock();
  });

  it('locks on different directories do not interfere', () => {
    const other = tempDir();
    try {
      lock();
      const l = lockDataDir(other.dir);
      l.release();
    } finally {
      other.cleanup();
    }
  });

  it('while held, another connection cannot even read the lock file (an exclusive lock)', () => {
    lock();
    const peek = new Database(join(tmp.dir, LOCK_FILE), { timeout: 0 });
    try {
      let err: { code?: string } | undefined;
      try {
        peek.prepare('SELECT pid FROM holder').all();
      } catch (e) {
        err = e as { code?: string };
      }
      expect(err?.code).to.match(/^SQLITE_BUSY/);
    } finally {
      peek.close();
    }
  });

  it('the refusal names no pid when the pid file is unreadable', () => {
    lock();
    // Replace the informational pid file with garbage: the lock itself still holds.
    writeFileSync(join(tmp.dir, PID_FILE), 'not a pid');
    let err: unknown;
    try {
      lock();
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DataDirLockedError);
    expect((err as Error).message).to.not.match(/\(pid \d+\)/);
  });
});

