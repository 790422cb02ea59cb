/**
 * Autosave's timing: when staged states become snapshots. The data side is src/store/autosaves.ts.
 *
 * - Debounce: a scope's staged state is promoted `debounceMs` after its last stage.
 * - Interval: every `intervalMs` everything staged is promoted, however busy the editing; the
 *   period follows preferences.autoSaveInterval live unless autosave.configure set one.
 * - Recovery: `recover()` (at start) turns states that were staged but never promoted into
 *   snapshots marked recovered, leaving the song rows alone: the user decides.
 * - Shutdown: `close()` promotes everything staged, then stops the timers.
 *
 * Timer callbacks never touch the database directly: they hand a job to `runner` (the server's
 * request queue), so a promotion never interleaves with a request's work. Timers are injectable.
 */
import type { AutosaveConfig } from '../generated/types.js';
import type { Preferences } from '../store/preferences.js';
import type { Store } from '../store/store.js';
import { nodeTimers, runNow, type Runner, type Timers } from './timers.js';

export type { Timers } from './timers.js';
import { scopeOf, type AutosaveReason, type AutosaveSettings, type Autosaves, type Promoted, type PromoteOptions } from '../store/autosaves.js';

export interface AutosaveLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AutosaveServiceOptions {
  store: Store;
  autosaves: Autosaves;
  preferences: Preferences;
  timers?: Timers;
  log?: AutosaveLog;
}

const quiet: AutosaveLog = { info: () => {}, warn: () => {} };

export class AutosaveService {
  readonly #o: Required<AutosaveServiceOptions>;
  readonly #debounce = new Map<string, unknown>();
  #interval: unknown;
  /** The period the interval timer was armed with. */
  #armedMs = 0;
  #settings: AutosaveSettings;
  #closed = false;
  #run: Runner = runNow;
  #saved: ((p: Promoted) => void)[] = [];

  constructor(options: AutosaveServiceOptions) {
    this.#o = { timers: nodeTimers, log: quiet, ...options };
    this.#settings = this.#o.autosaves.settings();
    this.#o.store.onCommit((changes) => {
      // Only a changed autoSaveInterval re-arms: other preference writes (window state, theme)
      // must not keep postponing the periodic save.
      if (this.#settings.intervalMs === null && changes.some((c) => c.entity === 'preferences') && this.#intervalMs() !== this.#armedMs) {
        this.#armInterval();
      }
    });
    this.#armInterval();
  }

  /** Where timer-driven promotions run: the server's queue, once there is a server. */
  setRunner(run: Runner): void {
    this.#run = run;
  }

  /** Calls `listener` after each snapshot a promotion added (autosave.saved). */
  onSaved(listener: (p: Promoted) => void): void {
    this.#saved.push(listener);
  }

  /** The configuration in force. */
  config(): AutosaveConfig {
    const s = this.#settings;
    return {
      debounceMs: s.debounceMs,
      intervalMs: this.#intervalMs(),
      intervalSource: s.intervalMs === null ? 'preferences' : 'configured',
      keep: s.keep,
      mode: s.mode,
    };
  }

  /** Changes and stores the settings; the interval is re-armed with the new period. */
  configure(patch: Partial<AutosaveSettings>): AutosaveConfig {
    this.#settings = this.#o.autosaves.saveSettings(patch);
    if (patch.intervalMs !== undefined) this.#armInterval();
    return this.config();
  }

  /** Stages a state (committed on return) and re-arms its scope's debounce timer. */
  stage(...args: Parameters<Autosaves['stage']>): ReturnType<Autosaves['stage']> {
    const result = this.#o.autosaves.stage(...args);
    const scope = scopeOf(args[0], args[1]);
    this.#clearDebounce(scope);
    if (!this.#closed) {
      this.#debounce.set(
        scope,
        this.#o.timers.setTimeout(() => {
          this.#debounce.delete(scope);
          this.#background(() => this.#promoteScope(scope, 'debounce'));
        }, this.#settings.debounceMs),
      );
    }
    return result;
  }

  /**
   * Promotes what is staged (for one song, or all) now. Answers each snapshot added with what
   * became of its rows and their revisions (as autosave.saved tells them).
   */
  flush(songId?: string, reason: AutosaveReason = 'flush'): { saved: Promoted[]; unchanged: number } {
    const { added, unchanged } = this.#o.autosaves.promoteAll(reason, this.#options(), songId);
    this.#clearDebounces(songId === undefined ? undefined : (scope) => scope === songId || scope.startsWith(`${songId}/`));
    this.#announce(added);
    return { saved: added, unchanged };
  }

  /** At start: staged states left by a crash become recovered snapshots; song rows stay as they are. */
  recover(): Promoted[] {
    if (this.#o.autosaves.stagedScopes().length === 0) return []; // the usual start: no write at all
    const { added } = this.#o.autosaves.promoteAll('recovery', { ...this.#options(), mode: 'snapshot-only', recovered: true });
    if (added.length) this.#o.log.info({ count: added.length }, 'recovered staged autosave states');
    return added;
  }

  /** Restores a snapshot (see Autosaves.restore); its scope's pending debounce has nothing left to do. */
  restore(id: string): ReturnType<Autosaves['restore']> {
    return this.#o.autosaves.restore(id, { keep: this.#settings.keep });
  }

  /**
   * After the database file was replaced (a restore): settings are read from the new file, pending
   * debounces dropped (what they would promote is gone), the interval re-armed, and what the new
   * file had staged recovered as at a start.
   */
  reload(): void {
    this.#clearDebounces();
    this.#o.autosaves.forgetRevisions();
    this.#settings = this.#o.autosaves.settings();
    this.#armInterval();
    this.recover();
  }

  /** Promotes everything staged, then stops. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearDebounces();
    if (this.#interval !== undefined) this.#o.timers.clearTimeout(this.#interval);
    this.#interval = undefined;
    this.flush(undefined, 'shutdown');
  }

  #options(): PromoteOptions {
    return { mode: this.#settings.mode, keep: this.#settings.keep };
  }

  #intervalMs(): number {
    return this.#settings.intervalMs ?? Math.round(this.#o.preferences.get().autoSaveInterval * 1000);
  }

  #armInterval(): void {
    if (this.#interval !== undefined) this.#o.timers.clearTimeout(this.#interval);
    this.#interval = undefined;
    if (this.#closed) return;
    this.#armedMs = this.#intervalMs();
    this.#interval = this.#o.timers.setTimeout(() => {
      this.#interval = undefined;
      this.#background(() => {
        const { added } = this.#o.autosaves.promoteAll('interval', this.#options());
        for (const p of added) this.#clearDebounce(scopeOf(p.songId, p.performanceId));
        this.#announce(added);
      });
      this.#armInterval();
    }, this.#armedMs);
  }

  #promoteScope(scope: string, reason: AutosaveReason): void {
    const p = this.#o.autosaves.promote(scope, reason, this.#options());
    if (p?.added) this.#announce([p.snapshot]);
  }

  /** Runs a timer's job through the runner; a failure is logged and what was staged stays staged. */
  #background(job: () => void): void {
    if (this.#closed) return;
    this.#run(() => {
      if (this.#closed) return;
      try {
        job();
      } catch (err) {
        this.#o.log.warn({ err }, 'autosave failed; the staged state is kept and retried at the next interval');
      }
    });
  }

  #announce(added: Promoted[]): void {
    for (const p of added) for (const l of this.#saved) l(p);
  }

  /** Clears the debounce timers of every scope (or of those `which` accepts). */
  #clearDebounces(which: (scope: string) => boolean = () => true): void {
    for (const scope of [...this.#debounce.keys()]) if (which(scope)) this.#clearDebounce(scope);
  }

  #clearDebounce(scope: string): void {
    const h = this.#debounce.get(scope);
    if (h === undefined) return;
    this.#o.timers.clearTimeout(h);
    this.#debounce.delete(scope);
  }
}
