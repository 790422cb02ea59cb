/**
 * WAL checkpoints when the store is idle. SQLite's automatic checkpoint runs inside the commit
 * that crosses its threshold, so that commit (say, an autosave.stage on an edit) pays for copying
 * the WAL into the database and an fsync: tens of milliseconds. Here a checkpoint runs once no
 * write has committed for `delayMs`, as a job in the request queue, and the automatic threshold
 * (database.ts) is raised so that it only acts during long bursts of writes.
 */
import type { Store } from '../store/store.js';
import { nodeTimers, runNow, type Runner, type Timers } from './timers.js';

export const IDLE_CHECKPOINT_DELAY_MS = 1000;

export interface IdleCheckpointOptions {
  store: Store;
  timers?: Timers;
  delayMs?: number;
  onError?: (err: unknown) => void;
}

export class IdleCheckpoint {
  readonly #store: Store;
  readonly #timers: Timers;
  readonly #delayMs: number;
  readonly #onError: (err: unknown) => void;
  #timer: unknown;
  #run: Runner = runNow;
  #closed = false;
  /** Checkpoints run so far (for tests and system.stats). */
  count = 0;

  constructor(options: IdleCheckpointOptions) {
    this.#store = options.store;
    this.#timers = options.timers ?? nodeTimers;
    this.#delayMs = options.delayMs ?? IDLE_CHECKPOINT_DELAY_MS;
    this.#onError = options.onError ?? (() => {});
    this.#store.onCommit(() => this.#arm());
  }

  setRunner(run: Runner): void {
    this.#run = run;
  }

  #arm(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#run(() => {
        if (this.#closed || !this.#store.db.open || this.#store.db.inTransaction) return;
        // A backup's file copy holds every checkpoint off the file (Store.pinWal): try again later.
        if (this.#store.walPinned) {
          this.#arm();
          return;
        }
        try {
          // PASSIVE: never waits for other connections' readers; what it cannot copy now the next one will.
          this.#store.ownFileWrite(() => this.#store.db.pragma('wal_checkpoint(PASSIVE)'));
          this.count++;
        } catch (err) {
          this.#onError(err);
        }
      });
    }, this.#delayMs);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
