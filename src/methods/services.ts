/**
 * What method handlers work with: the store's repositories and the services above them.
 * Built once by the composition root (src/main.ts); there are no singletons.
 */
import type { Repository } from '../store/repository.js';
import type { Store } from '../store/store.js';
import type { StoredSong } from '../generated/types.js';

export interface RuntimeInfo {
  readonly version: string;
  readonly dataDir: string;
  readonly dbPath: string;
  readonly startedAt: number;
  /** The framing in use: known once the host's first byte arrived; `none` for one-shot calls. */
  framing(): 'header' | 'ndjson' | 'none';
}

export interface Services {
  readonly store: Store;
  readonly songs: Repository<StoredSong>;
  readonly runtime: RuntimeInfo;
  /** Starts an orderly shutdown once the current answer is written. */
  requestShutdown(): void;
}
