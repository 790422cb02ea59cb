/**
 * What method handlers work with: the store's repositories and the services above them.
 * Built once by the composition root (src/main.ts); there are no singletons.
 */
import type { Repository } from '../store/repository.js';
import type { Store } from '../store/store.js';
import type { StoredInstrument, StoredPerformance, StoredPreset, StoredSong, StoredVoice } from '../generated/types.js';
import type { Preferences } from '../store/preferences.js';
import type { RecentItems } from '../store/recent.js';
import type { References } from '../store/usage.js';
import type { Autosaves } from '../store/autosaves.js';
import type { AutosaveService } from '../services/autosave.js';
import type { Backups } from '../services/backups.js';
import type { Transfer } from '../services/transfer.js';
import type { Archive } from '../services/archive.js';
import type { History } from '../store/history.js';

export interface RuntimeInfo {
  readonly version: string;
  readonly dataDir: string;
  readonly dbPath: string;
  readonly exportsDir: string;
  readonly startedAt: number;
  /** Set when data.db was damaged at start and restored from a backup. */
  readonly recovery?: { reason: string; corruptFile: string; restoredFrom: string; at: number };
  /** The framing in use: known once the host's first byte arrived; `none` for one-shot calls. */
  framing(): 'header' | 'ndjson' | 'none';
  /** Set when the database is open read-only (whiteroom-store inspect). */
  readonly readOnly?: true;
}

export interface Services {
  readonly store: Store;
  readonly songs: Repository<StoredSong>;
  readonly performances: Repository<StoredPerformance>;
  readonly instruments: Repository<StoredInstrument>;
  readonly voices: Repository<StoredVoice>;
  readonly presets: Repository<StoredPreset>;
  readonly preferences: Preferences;
  readonly recent: RecentItems;
  /** Who names an instrument, voice or preset (the host's references inside songs and performances). */
  readonly references: References;
  /** Versions and trash of songs and performances. */
  readonly history: History;
  /** Autosave data (snapshots, staging). */
  readonly autosaves: Autosaves;
  /** Autosave timing (debounce, interval, recovery, shutdown flush). */
  readonly autosave: AutosaveService;
  readonly backups: Backups;
  readonly transfer: Transfer;
  readonly archive: Archive;
  readonly runtime: RuntimeInfo;
  /** Sends a notification to the host (nothing when there is no host: one-shot calls). */
  notify(method: string, params: unknown): void;
  /** Starts an orderly shutdown once the current answer is written. */
  requestShutdown(): void;
}
