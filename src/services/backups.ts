/**
 * Backups of the data directory: a copy of the database file under a snapshot that holds every
 * checkpoint off it, or SQLite's online backup API where there is none (src/store/backup.ts),
 * listed, verified, pruned, taken automatically once a day, and restored by swapping the file
 * atomically after the source has been validated and the current state backed up.
 *
 * Restore, step by step (a crash at any step leaves the old database or the new one, whole):
 *   1. copy the source beside the live file (`data.db.restoring`): a file copy for a standalone
 *      rollback-journal file, the backup API otherwise, made standalone;
 *   2. validate the copy (read-only, untrusted): integrity, schema version, exact schema, foreign
 *      keys; a copy that fails is removed and the source is judged as backup.verify judges it
 *      (-32020 with its reason, nothing changed); fsync the copy;
 *   3. checkpoint and close the live database (no -wal remains), remove any stale -wal/-shm;
 *   4. keep the current state as the safety backup (kind pre-restore): a hard link to data.db
 *      in backups/ (the same bytes, no copy), fsync backups/;
 *   5. rename the copy over data.db, fsync the folder, reopen, migrate an older schema;
 *   6. make the safety backup a standalone labelled file.
 * A `data.db.restoring` left by a crash before step 5 is removed at the next start.
 */
import { lstatSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ErrorCode, RpcError, invalidParams, requestCancelled } from '../errors.js';
import type { BackupInfo as BackupInfoModel, BackupVerification, Counts } from '../generated/types.js';
import { MIGRATIONS } from '../generated/migrations.js';
import { TEMP_FILE, type DataPaths } from '../paths.js';
import { fileError, fileRefused, Files, withJudgedView, type FileView } from '../files.js';
import { refreshDerived } from '../store/derived.js';
import { PartStore } from '../store/parts.js';
import { migrate } from '../store/migrations.js';
import {
  BACKUP_FILE,
  BackupCancelled,
  RESTORING_SUFFIX,
  backupStem,
  fsyncPath,
  inspectDatabase,
  isStandalone,
  labelBackup,
  linkIntoPlace,
  openUntrusted,
  readFacts,
  removeDatabaseFile,
  removePartials,
  removeSideFiles,
  stageVerified,
  timeFromName,
  withConnection,
  recordCounts,
  writeBackup,
  type BackupKind,
} from '../store/backup.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../log.js';
import { decodeCursor, encodeCursor, DEFAULT_PAGE_SIZE, type Page } from '../store/repository.js';

export type Kind = BackupInfoModel['kind'];

/** Reports progress of a long operation: a fraction 0..1 and what it is doing. */
export interface Progress {
  begin(message: string): void;
  report(fraction: number, message?: string): void;
  end(message?: string): void;
}

export interface LongOperation {
  progress?: Progress;
  /** True once the host cancelled the request. */
  cancelled?: () => boolean;
}

export interface BackupsOptions {
  store: Store;
  paths: DataPaths;
  /** Called after the database file was replaced and reopened (services reload their state). */
  onReopened?: () => void;
  now?: () => number;
  /** Told how each backup was copied (info), and why one fell back to the online backup API. */
  log?: Logger;
}

export const AUTOMATIC_KEEP = 10;

export const invalidBackup = (path: string, reason: string): RpcError =>
  new RpcError(ErrorCode.InvalidBackup, `${path} cannot be restored: ${reason}`, { reason, path });

export class Backups {
  readonly #o: BackupsOptions;
  /** Long operations reading the database beside the queue (backups, full exports). */
  readonly #running = new Set<Promise<unknown>>();
  /** Backups into backups/ run one after another (one partial file at a time). */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(options: BackupsOptions) {
    this.#o = options;
  }

  get #dir(): string {
    return this.#o.paths.backupsDir;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** Removes what a restore interrupted by a crash left beside the database (before it is opened). */
  static cleanUp(paths: DataPaths): void {
    removeDatabaseFile(`${paths.dbPath}${RESTORING_SUFFIX}`);
  }

  /**
   * At start: also what a crash interrupted elsewhere: partial backup files, the work folders of a
   * full export or import, export files not yet renamed, and a backup name that is still a second
   * name of data.db itself (a restore interrupted between naming its safety backup and the swap:
   * data.db is the old state, whole).
   */
  static cleanUpAtStart(paths: DataPaths): void {
    Backups.cleanUp(paths);
    removePartials(paths.backupsDir);
    Backups.#finishUnfinished(paths);
    try {
      const live = statSync(paths.dbPath);
      // Only a file with a second name can have one in backups/: usually nothing to look at.
      if (live.nlink > 1) {
        for (const name of readdirSync(paths.backupsDir)) {
          const st = statSync(join(paths.backupsDir, name));
          if (st.ino === live.ino && st.dev === live.dev) rmSync(join(paths.backupsDir, name));
        }
      }
    } catch {
      /* no data.db yet */
    }
    for (const name of readdirSync(paths.dataDir)) {
      if (/^\.(export|import|view)-/.test(name)) rmSync(join(paths.dataDir, name), { recursive: true, force: true });
    }
    // An export's file before its rename (`<name>.tmp-<pid>`); one written elsewhere is the host's.
    for (const name of readdirSync(paths.exportsDir)) {
      if (TEMP_FILE.test(name)) rmSync(join(paths.exportsDir, name), { force: true });
    }
  }

  /**
   * Backups a crash left unfinished: a safety backup still in WAL mode (a restore killed after its
   * swap, before step 6), or with a hot journal (killed while it was being labelled). Each is made
   * a standalone rollback-journal file, as the restore would have: SQLite rolls the journal back
   * or folds the WAL in when the file is opened for writing. Left as it is when that fails
   * (backup.verify says why); only regular files named like backups are opened.
   */
  static #finishUnfinished(paths: DataPaths): void {
    for (const name of readdirSync(paths.backupsDir)) {
      if (!BACKUP_FILE.test(name)) continue;
      const path = join(paths.backupsDir, name);
      try {
        if (!lstatSync(path).isFile() || isStandalone(path)) continue;
        withConnection(path, (db) => db.pragma('journal_mode = DELETE'));
        fsyncPath(path);
        removeSideFiles(path);
      } catch {
        /* see above */
      }
    }
  }

  /**
   * Runs `work`, a long operation that reads the database while requests go on beside it; a
   * restore waits for every one of them before it closes the database.
   */
  track<T>(work: Promise<T>): Promise<T> {
    this.#running.add(work);
    const done = (): void => {
      this.#running.delete(work);
    };
    work.then(done, done);
    return work;
  }

  /** Resolves when no tracked operation runs. */
  async quiesce(): Promise<void> {
    while (this.#running.size) await Promise.allSettled([...this.#running]);
  }

  /** A backup now. Throws RequestCancelled (no file left) when `op.cancelled` turns true. */
  create(kind: BackupKind, label: string | undefined, op: LongOperation = {}): Promise<BackupInfoModel> {
    const run = this.#chain.then(() => this.#create(kind, label, op));
    this.#chain = run.catch(() => undefined);
    return this.track(run);
  }

  async #create(kind: BackupKind, label: string | undefined, op: LongOperation): Promise<BackupInfoModel> {
    op.progress?.begin('Backing up');
    try {
      const started = performance.now();
      const made = await writeBackup(this.#o.store.db, this.#dir, kind, {
        now: this.#now(),
        ...(label === undefined ? {} : { label }),
        onProgress: (f) => op.progress?.report(f),
        isCancelled: op.cancelled,
        pinWal: () => this.#o.store.pinWal(),
        ownFileWrite: (fn) => this.#o.store.ownFileWrite(fn),
      });
      const ms = Math.round(performance.now() - started);
      this.#o.log?.info({ name: made.name, kind, method: made.method, ms, ...(made.fallback ? { fallback: made.fallback } : {}) }, 'backup written');
      return this.info(made.path);
    } catch (err) {
      if (err instanceof BackupCancelled) throw requestCancelled();
      throw err;
    } finally {
      op.progress?.end();
    }
  }

  /**
   * What a backup file is (read from the file itself, through a private view of it: a FIFO or a
   * device named like a backup is refused at once, never opened by SQLite). Its time is the one
   * its label records, else the one its name gives (local time), else its modification time.
   */
  info(path: string): BackupInfoModel {
    return withJudgedView(path, this.files.viewDir, (view, h) => {
      const db = openUntrusted(view);
      try {
        const facts = readFacts(db);
        return {
          path,
          name: basename(path),
          sizeBytes: h.stat.size,
          createdAt: facts.createdAt ?? this.#timeOf(path, h.stat.mtimeMs),
          schemaVersion: facts.schemaVersion,
          kind: facts.kind,
          ...(facts.label === undefined ? {} : { label: facts.label }),
        };
      } finally {
        db.close();
      }
    });
  }

  /** The time a backup's name gives, else `mtimeMs`. */
  #timeOf(path: string, mtimeMs: number): number {
    return timeFromName(basename(path)) ?? Math.round(mtimeMs);
  }

  /**
   * Every file in backups/ named like a backup, newest first. One that is not a database (empty,
   * unreadable, or not a regular file, which is never opened) is listed as damaged, with why:
   * it is never hidden, and never counted or deleted by prune or the automatic retention.
   */
  all(): BackupInfoModel[] {
    const out: BackupInfoModel[] = [];
    for (const name of readdirSync(this.#dir)) {
      if (!BACKUP_FILE.test(name)) continue;
      const path = join(this.#dir, name);
      let st;
      try {
        st = lstatSync(path);
      } catch {
        continue; // removed meanwhile
      }
      const damaged = (reason: string, sizeBytes = st.isFile() ? st.size : 0): BackupInfoModel => ({
        path,
        name,
        sizeBytes,
        createdAt: this.#timeOf(path, st.mtimeMs),
        kind: 'unknown',
        damaged: true,
        reason,
      });
      // Judged by name first: a FIFO, device, socket or folder is never opened, even by open(2).
      if (!st.isFile() && !st.isSymbolicLink()) {
        out.push(damaged('not a regular file (a FIFO, a device, a socket or a folder): not a backup, never opened'));
        continue;
      }
      try {
        const info = this.info(path);
        // SQLite reads an empty file as an empty database.
        out.push(info.sizeBytes > 0 ? info : damaged('an empty file (0 bytes): not a database', 0));
      } catch (err) {
        if (err instanceof RpcError && (err.data as { reason?: string } | undefined)?.reason === 'not-found') continue; // removed meanwhile
        out.push(damaged(`not a database that can be read: ${err instanceof Error ? err.message : String(err)}`));
      }
    }
    return out.sort((a, b) => b.createdAt - a.createdAt || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  }

  /** The backups that are whole databases (not damaged), newest first. */
  sound(): BackupInfoModel[] {
    return this.all().filter((b) => !b.damaged);
  }

  list(options: { kind?: Kind; limit?: number; cursor?: string } = {}): Page<BackupInfoModel> {
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    let items = this.all().filter((b) => options.kind === undefined || b.kind === options.kind);
    const scope = { '(list)': 'backups', kind: options.kind };
    if (options.cursor) {
      const [at, name] = decodeCursor(options.cursor, 'createdAt', 'desc', scope);
      items = items.filter((b) => b.createdAt < (at as number) || (b.createdAt === at && b.name < name));
    }
    const page = items.slice(0, limit);
    const last = page[page.length - 1];
    return items.length > limit && last ? { items: page, nextCursor: encodeCursor('createdAt', 'desc', last.createdAt, last.name, scope) } : { items: page };
  }

  /** The rule for the files a host names (src/files.ts). */
  get files(): Files {
    return (this.#files ??= new Files(this.#o.paths));
  }

  #files: Files | undefined;

  /** Checks the file at `path` (absolute, or a name in backups/) as restore would, through a private view of it. */
  verify(path: string): BackupVerification {
    return this.files.withView(path, this.#dir, '/path', (view, h) => this.#verification(h.path, h.stat.size, inspectDatabase(view, MIGRATIONS)));
  }

  #verification(full: string, sizeBytes: number, found: ReturnType<typeof inspectDatabase>): BackupVerification {
    return {
      path: full,
      ok: found.ok,
      ...(found.reason === undefined ? {} : { reason: found.reason }),
      sizeBytes,
      ...(found.schemaVersion === undefined ? {} : { schemaVersion: found.schemaVersion }),
      ...(found.integrity === undefined ? {} : { integrity: found.integrity }),
      ...(found.counts === undefined ? {} : { counts: found.counts }),
      ...(found.kind === undefined ? {} : { kind: found.kind }),
      ...(found.createdAt === undefined ? {} : { createdAt: found.createdAt }),
    };
  }

  /** Deletes one backup file of backups/. Anything else is refused (InvalidParams). */
  delete(path: string): { path: string; sizeBytes: number } {
    const full = this.files.resolve(path, this.#dir, '/path');
    // Only backup files of backups/ are ever deleted: anything else is the store's or the user's.
    if (resolve(full, '..') !== resolve(this.#dir)) throw fileRefused(path, 'outside', `only backup files in ${this.#dir} are deleted`);
    if (!BACKUP_FILE.test(basename(full))) throw fileRefused(path, 'protected', 'not a backup file (data_….db)');
    let st;
    try {
      st = lstatSync(full);
    } catch (err) {
      throw fileError(err, path);
    }
    if (!st.isFile()) throw fileRefused(path, st.isSymbolicLink() ? 'symlink' : 'not-a-file');
    const sizeBytes = st.size;
    removeDatabaseFile(full); // with any -wal, -shm or -journal SQLite left beside it
    fsyncPath(this.#dir);
    return { path: full, sizeBytes };
  }

  /**
   * Deletes all but the newest `keep` (of `kind`, or of all), only those older than `olderThanDays`
   * if given. Damaged files are neither counted among the kept nor deleted: they are named in
   * `damaged` (all of them, whatever `kind`), for a person to look at.
   */
  prune(options: { keep: number; olderThanDays?: number; kind?: Kind }): { deleted: string[]; kept: number; freedBytes: number; damaged: string[] } {
    const all = this.all();
    const damaged = all.filter((b) => b.damaged).map((b) => b.name);
    const candidates = all.filter((b) => !b.damaged && (options.kind === undefined || b.kind === options.kind));
    const cutoff = options.olderThanDays === undefined ? Infinity : this.#now() - options.olderThanDays * 86_400_000;
    const deleted: string[] = [];
    let freedBytes = 0;
    candidates.forEach((b, i) => {
      if (i < options.keep || b.createdAt >= cutoff) return;
      removeDatabaseFile(b.path);
      deleted.push(b.name);
      freedBytes += b.sizeBytes;
    });
    if (deleted.length) fsyncPath(this.#dir);
    return { deleted, kept: candidates.length - deleted.length, freedBytes, damaged };
  }

  /**
   * The daily automatic backup: when the database holds anything and the newest automatic backup
   * is older than `maxAgeMs`, a new one, keeping the newest AUTOMATIC_KEEP. Answers it, or undefined.
   * Tracked like the operations that run beside the queue (a restore waits for it).
   */
  automatic(maxAgeMs: number, op: LongOperation = {}): Promise<BackupInfoModel | undefined> {
    return this.track(this.#automatic(maxAgeMs, op));
  }

  async #automatic(maxAgeMs: number, op: LongOperation): Promise<BackupInfoModel | undefined> {
    const newest = this.sound().find((b) => b.kind === 'automatic');
    if (newest && this.#now() - newest.createdAt < maxAgeMs) return undefined;
    const songs = this.#o.store.db.prepare('SELECT count(*) FROM songs').pluck().get() as number;
    const instruments = this.#o.store.db.prepare('SELECT count(*) FROM instruments').pluck().get() as number;
    if (songs + instruments === 0) return undefined;
    const made = await this.create('automatic', undefined, op);
    this.prune({ keep: AUTOMATIC_KEEP, kind: 'automatic' });
    return made;
  }

  /** Replaces the database with the backup at `path` (see the file's comment for the steps). */
  async restore(
    path: string,
    op: LongOperation = {},
    safetyKind: 'pre-restore' | 'pre-import' = 'pre-restore',
  ): Promise<{ restoredFrom: string; schemaVersion: number; counts: Counts; safetyBackup: BackupInfoModel }> {
    // The source is opened and judged, and SQLite reads a private view of it (src/files.ts).
    const h = this.files.openRead(path, this.#dir, '/path');
    let view: FileView | undefined;
    try {
      view = this.files.view(h, path);
      return await this.#restore(h.path, view, op, safetyKind);
    } catch (err) {
      throw fileError(err, path);
    } finally {
      view?.dispose();
      h.close();
    }
  }

  async #restore(
    source: string,
    view: FileView,
    op: LongOperation,
    safetyKind: 'pre-restore' | 'pre-import',
  ): Promise<{ restoredFrom: string; schemaVersion: number; counts: Counts; safetyBackup: BackupInfoModel }> {
    const { store, paths } = this.#o;
    // Backups and exports running beside the queue read this connection: let them finish.
    await this.quiesce();
    op.progress?.begin('Copying and checking the backup');
    try {
      // The source is copied beside data.db and the copy is checked: what is checked is what
      // will be served, and a file that fails leaves no copy and changes nothing.
      const staging = `${paths.dbPath}${RESTORING_SUFFIX}`;
      Backups.cleanUp(paths);
      let found;
      try {
        found = await stageVerified(view.path, staging, MIGRATIONS);
      } finally {
        view.dispose();
      }
      if (!found.ok) throw invalidBackup(source, found.reason ?? 'it is not a valid backup');
      if (op.cancelled?.()) {
        Backups.cleanUp(paths);
        throw requestCancelled();
      }
      // The point of no return: from here the request is not cancelled.
      op.progress?.report(0.7, 'Replacing the database');
      const at = this.#now();
      // data.db must be whole on its own before it is named as the safety backup and replaced:
      // a checkpoint that fails (a full disk) stops the restore here, with nothing changed.
      try {
        store.checkpoint();
      } catch (err) {
        Backups.cleanUp(paths);
        throw err;
      }
      store.close(); // nothing ran since the checkpoint: SQLite removed the -wal
      let safety: string | undefined;
      let swapped = false;
      try {
        removeSideFiles(paths.dbPath);
        // The current state becomes the safety backup by a second name for the same file (no
        // copy); then the checked copy is renamed over data.db. A crash between the two leaves
        // data.db as it was, and the extra name is removed at the next start.
        safety = linkIntoPlace(paths.dbPath, this.#dir, backupStem(new Date(at)));
        fsyncPath(this.#dir);
        renameSync(staging, paths.dbPath);
        swapped = true;
        fsyncPath(paths.dataDir);
      } catch (err) {
        // Not swapped (a full disk refused the link): data.db is as it was; undo the rest.
        if (!swapped) {
          if (safety) rmSync(safety, { force: true });
          Backups.cleanUp(paths);
        }
        throw err;
      } finally {
        store.reopen();
      }
      // Reopened: the file is the one validated above (a rename does not change bytes).
      await migrate(store.db, paths.dbPath, { backupDir: this.#dir });
      // Derived columns are never taken from a file: the restored rows get this binary's keys.
      store.ownFileWrite(() => refreshDerived(store.db, { force: true })); // may checkpoint automatically
      // So are the part store's reference counts: counted again from the nodes and manifests.
      store.write(() => new PartStore(store).recount());
      // What the services do about the new file (recovering what it had staged) is part of the
      // replacement, which the caller announces once (store.reset): no store.changed of its own.
      store.unannounced(() => this.#o.onReopened?.());
      // The safety backup becomes a standalone, labelled file like every backup. The restore is
      // done whatever happens here: a safety backup that could not be labelled (a full disk) is
      // still a whole database, listed with kind "unknown".
      try {
        withConnection(safety, (old) => {
          old.pragma('journal_mode = DELETE');
          labelBackup(old, safetyKind, at);
        });
        fsyncPath(safety);
      } catch {
        /* see above */
      }
      return { restoredFrom: source, schemaVersion: store.schemaVersion, counts: recordCounts(store.db), safetyBackup: this.info(safety) };
    } finally {
      op.progress?.end();
    }
  }
}
