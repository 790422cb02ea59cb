/**
 * Autosave data: staged states and the snapshots they become (tables `autosave_staging` and
 * `autosaves`, migration 0002). Timers live above this, in src/services/autosave.ts; everything
 * here is one synchronous transaction per call, so it is tested with a fake clock and no timers.
 *
 * - A stage replaces the staged state of its scope (a song, or a song and one of its performances)
 *   and is committed before it returns: a crash a moment later loses nothing.
 * - A promotion turns a staged state into a snapshot unless it is already saved (it equals the
 *   newest snapshot of its scope and, in the default mode, the rows as well), prunes the song's
 *   snapshots beyond `keep` and clears the staged row, all in one transaction. In the default mode
 *   it also writes the song and performance rows, but never over a write made since the stage
 *   (see `#atBase`) and never their play state (isFavorite, playCount, lastPlayedAt: they record
 *   use, which the editor's model may hold stale). States are compared as values (sameCompactJson:
 *   members in any order, strings by value whatever their escapes, numbers as written).
 * - Snapshots of one song are strictly ordered by `createdAt` (a snapshot made in the same
 *   millisecond as the newest is stamped one millisecond later).
 */
import { randomUUID } from 'node:crypto';
import { constraintViolation, invalidParams, notFound, type ParamError, storageCorrupt } from '../errors.js';
import type {
  AutosaveConfig,
  AutosaveSnapshot,
  AutosaveSummary,
  StoredPerformance,
  StoredSong,
} from '../generated/types.js';
import { decodeCursor, encodeCursor, DEFAULT_PAGE_SIZE, type DeleteResult, type Model, type Page, type Repository } from './repository.js';
import type { Store } from './store.js';
import { performances as performanceDesc, songs as songDesc } from './entities.js';
import { parseManifest, parsePart, partsOfModel, recordFromTexts, type History } from './history.js';
import { answerAs, answerTextOf, copyWithParts, partTextOf, sameCompactJson, textsAt, withPartTexts } from '../json-text.js';
import { partColumns, type EntityDescriptor } from './entity.js';

export type AutosaveReason = AutosaveSummary['reason'];
export type AutosaveMode = AutosaveConfig['mode'];

/** What autosave.configure keeps in the metadata table. `intervalMs: null` follows preferences. */
export interface AutosaveSettings {
  debounceMs: number;
  intervalMs: number | null;
  keep: number;
  mode: AutosaveMode;
}

export const DEFAULT_AUTOSAVE_SETTINGS: Readonly<AutosaveSettings> = {
  debounceMs: 2000,
  intervalMs: null,
  keep: 50,
  mode: 'snapshot-and-song',
};

const SETTINGS_KEY = 'autosave_settings';

export interface StageResult {
  songId: string;
  performanceId?: string;
  stagedAt: number;
  sizeBytes: number;
}

/** Why a promotion in the default mode left the rows as they were (autosave.saved `reason`). */
export type RowsKept = 'row-changed' | 'rows-hold-state' | 'snapshot-only';

/** One snapshot a promotion added, and what became of the rows (autosave.saved). */
export interface Promoted {
  autosaveId: string;
  songId: string;
  performanceId?: string;
  at: number;
  /** Whether the song (and performance) row was written from the snapshot. */
  rowWritten: boolean;
  /** Present exactly when `rowWritten` is false. */
  reason?: RowsKept;
  /** The song row's revision after the promotion. */
  revision: number;
  /** The performance row's revision after the promotion, for a performance's scope. */
  performanceRevision?: number;
}

/**
 * The revisions a staged state was based on: what the host said (autosave.stage `baseRevision`,
 * `performanceBaseRevision`), or the rows' revisions when the stage was answered.
 */
export interface BaseRevisions {
  song?: number;
  performance?: number;
}

/** The outcome of promoting one staged state: a new snapshot, or the newest one it equalled. */
export type Promotion = { added: true; snapshot: Promoted } | { added: false; autosaveId: string };

export interface PromoteOptions {
  mode: AutosaveMode;
  keep: number;
  recovered?: boolean;
  /** A snapshot retention must not prune (the one a restore is restoring). */
  spare?: string;
}

export interface RestoreResult {
  song: StoredSong;
  performance?: StoredPerformance;
  state?: Record<string, unknown>;
  undoId: string;
}

interface StagedRow {
  scope: string;
  song_id: string;
  performance_id: string | null;
  body: string;
  body_kind: 'snapshot' | 'request';
}

interface AutosaveRow {
  id: string;
  song_id: string;
  performance_id: string | null;
  name: string;
  created_at: number;
  size_bytes: number;
  recovered: number;
  reason: AutosaveReason;
  revision: number;
  manifest_json?: string;
}

/** A record's parts under `prefix` ("song", "performance"): `<prefix>.fields`, `<prefix>.<part>`. */
function recordParts(prefix: string, desc: typeof songDesc, model: Record<string, unknown>, into: Record<string, string>): void {
  for (const [name, text] of Object.entries(partsOfModel(desc, model))) into[`${prefix}.${name}`] = text;
}

/** The part names of a snapshot's manifest: `song.<part>`, `performance.<part>`, `state`. */
export function snapshotParts(snapshot: AutosaveSnapshot): Record<string, string> {
  const parts: Record<string, string> = {};
  recordParts('song', songDesc, snapshot.song as unknown as Record<string, unknown>, parts);
  if (snapshot.performance) recordParts('performance', performanceDesc, snapshot.performance as unknown as Record<string, unknown>, parts);
  if (snapshot.state !== undefined) parts.state = partTextOf(snapshot, 'state') ?? JSON.stringify(snapshot.state);
  return parts;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The parts of a snapshot an older version stored (autosaves.snapshot_json, schemas 1 to 4, moved
 * into the part store by migration 5), which no schema held to the AutosaveSnapshot shape: its song
 * and performance objects and its state as snapshotParts stores them, and everything else kept
 * verbatim, so that autosave.get answers the snapshot as it was: the other members of the object in
 * the part `other` (an object), a snapshot that is not an object whole in the part `snapshot`.
 * A text that is not JSON is kept, as the JSON string of it, in the part `unreadable` (answered StorageCorrupt).
 */
export function legacySnapshotParts(text: string): Record<string, string> {
  let snapshot: unknown;
  try {
    snapshot = JSON.parse(text);
  } catch {
    // Not JSON (another tool, a damaged page): kept as the text it is, answered StorageCorrupt.
    return { unreadable: JSON.stringify(text) };
  }
  if (!isPlainObject(snapshot)) return { snapshot: text };
  const { song, performance, state, ...other } = snapshot;
  const parts: Record<string, string> = {};
  if (isPlainObject(song)) recordParts('song', songDesc, song, parts);
  else if (song !== undefined) other.song = song;
  if (isPlainObject(performance)) recordParts('performance', performanceDesc, performance, parts);
  else if (performance !== undefined) other.performance = performance;
  if (state !== undefined) parts.state = JSON.stringify(state);
  if (Object.keys(other).length) parts.other = JSON.stringify(other);
  return parts;
}

/** The snapshot whose parts these are (the texts of snapshotParts or legacySnapshotParts). */
function snapshotFromParts(texts: Record<string, string>): AutosaveSnapshot {
  if (texts.unreadable !== undefined) {
    const details = 'this autosave was not JSON when it was moved into the part store (migration 5); its text is kept as it was';
    throw storageCorrupt(details);
  }
  if (texts.snapshot !== undefined) {
    const whole = parsePart('snapshot', texts.snapshot);
    return (typeof whole === 'object' && whole !== null ? answerAs(whole, texts.snapshot) : whole) as AutosaveSnapshot;
  }
  // Each record from its fields and parts, as values and as the exact text they were stored as.
  const fields: Record<string, string> = {};
  const parts: Record<string, Map<string, string>> = {};
  for (const [name, text] of Object.entries(texts)) {
    if (name === 'state' || name === 'other') continue;
    const dot = name.indexOf('.');
    const which = name.slice(0, dot);
    const part = name.slice(dot + 1);
    if (part === 'fields') fields[which] = text;
    else (parts[which] ??= new Map()).set(part, text);
  }
  // The members an older version's snapshot had beside song, performance and state come first.
  const snapshot: Record<string, unknown> = texts.other === undefined ? {} : { ...(parsePart('other', texts.other) as Record<string, unknown>) };
  const out: string[] = texts.other === undefined || texts.other === '{}' ? [] : [texts.other.slice(1, -1)];
  for (const which of ['song', 'performance']) {
    if (fields[which] === undefined && !parts[which]) continue;
    const record = recordFromTexts(fields[which] ?? '{}', parts[which] ?? new Map(), `${which}.`);
    snapshot[which] = record;
    out.push(`${JSON.stringify(which)}:${answerTextOf(record)!}`);
  }
  if (texts.state !== undefined) {
    snapshot.state = parsePart('state', texts.state);
    out.push(`"state":${texts.state}`);
    withPartTexts(snapshot, new Map([['state', texts.state]]));
  }
  return answerAs(snapshot, `{${out.join(',')}}`) as unknown as AutosaveSnapshot;
}

/** The staging key of a song, or of a song and one of its performances. */
export const scopeOf = (songId: string, performanceId?: string | null): string =>
  performanceId ? `${songId}/${performanceId}` : songId;

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** "2:34 PM" in the sidecar's local time (no Intl: its spacing differs between ICU versions). */
export function clockTime(at: number): string {
  const d = new Date(at);
  const h = d.getHours();
  return `${h % 12 || 12}:${pad2(d.getMinutes())} ${h < 12 ? 'AM' : 'PM'}`;
}

const NAME_PREFIX: Record<AutosaveReason, string> = {
  debounce: 'Auto-Save',
  interval: 'Auto-Save',
  flush: 'Auto-Save',
  shutdown: 'Auto-Save',
  recovery: 'Recovered',
  'pre-restore': 'Before Restore',
};

/**
 * Refuses a snapshot that names another song or performance than the one it is staged for
 * (InvalidParams, with JSON pointers into the autosave.stage params).
 */
function checkSnapshot(songId: string, performanceId: string | undefined, snapshot: AutosaveSnapshot): void {
  const problems: ParamError[] = [];
  if (snapshot.song.id !== undefined && snapshot.song.id !== songId) {
    problems.push({ path: '/snapshot/song/id', message: `must be the staged songId ${JSON.stringify(songId)}` });
  }
  const perf = snapshot.performance;
  if (perf) {
    if (performanceId === undefined) {
      problems.push({ path: '/performanceId', message: 'is required when the snapshot carries a performance' });
    } else if (perf.id !== undefined && perf.id !== performanceId) {
      problems.push({ path: '/snapshot/performance/id', message: `must be the staged performanceId ${JSON.stringify(performanceId)}` });
    }
    if (perf.songId !== songId) {
      problems.push({ path: '/snapshot/performance/songId', message: `must be the staged songId ${JSON.stringify(songId)}` });
    }
  }
  if (problems.length) throw invalidParams(problems);
}

/** The snapshot as stored: the song's and performance's ids filled in, so a restore writes the rows it came from. */
function withIds(songId: string, performanceId: string | undefined, snapshot: AutosaveSnapshot): AutosaveSnapshot {
  return copyWithParts(snapshot, {
    song: copyWithParts(snapshot.song, { id: songId }),
    ...(snapshot.performance ? { performance: copyWithParts(snapshot.performance, { id: performanceId }) } : {}),
  } as Partial<AutosaveSnapshot>);
}

/**
 * The snapshot a staged body holds, its song's and performance's structured parts carrying the
 * texts the host sent (found in the body itself: the stage request, or the snapshot's JSON).
 */
function stagedSnapshot(body: string, kind: 'request' | 'snapshot'): { snapshot: AutosaveSnapshot; bytes: number } {
  const parsed = JSON.parse(body) as { params?: { snapshot: AutosaveSnapshot } } & AutosaveSnapshot;
  const snapshot = kind === 'request' ? parsed.params!.snapshot : parsed;
  const at = kind === 'request' ? '/params/snapshot' : '';
  const pointers: string[] = [at];
  const records: [string, EntityDescriptor, object | undefined][] = [
    ['song', songDesc, snapshot.song],
    ['performance', performanceDesc, snapshot.performance],
  ];
  for (const [name, desc] of records) for (const p of partColumns(desc)) pointers.push(`${at}/${name}/${p.path}`);
  pointers.push(`${at}/state`);
  const found = textsAt(body, pointers);
  const state = found.get(`${at}/state`);
  if (state !== undefined) withPartTexts(snapshot, new Map([['state', state]]));
  for (const [name, desc, record] of records) {
    if (!record) continue;
    const texts = new Map<string, string>();
    for (const p of partColumns(desc)) {
      const t = found.get(`${at}/${name}/${p.path}`);
      if (t !== undefined) texts.set(p.path, t);
    }
    withPartTexts(record, texts);
  }
  return { snapshot, bytes: Buffer.byteLength(found.get(at) ?? body) };
}

/** Play state: never taken from a staged state (the editor's copy of it may be stale). */
const PLAY_STATE = ['isFavorite', 'playCount', 'lastPlayedAt'] as const;

function withoutPlayState<T extends object>(model: T): T {
  const out = copyWithParts(model) as Record<string, unknown>;
  for (const k of PLAY_STATE) delete out[k];
  return out as T;
}

const snapshotText = (songId: string, performanceId: string | undefined, snapshot: AutosaveSnapshot): string =>
  JSON.stringify(withIds(songId, performanceId, snapshot));

const SUMMARY_COLUMNS = 'id, song_id, performance_id, name, created_at, size_bytes, recovered, reason, revision';

function summaryOf(row: AutosaveRow): AutosaveSummary {
  return {
    id: row.id,
    songId: row.song_id,
    ...(row.performance_id === null ? {} : { performanceId: row.performance_id }),
    name: row.name,
    createdAt: row.created_at,
    sizeBytes: row.size_bytes,
    recovered: row.recovered === 1,
    reason: row.reason,
    revision: row.revision,
  };
}

export class Autosaves {
  readonly #store: Store;
  readonly #songs: Repository<StoredSong>;
  readonly #performances: Repository<StoredPerformance>;
  readonly #history: History;
  /**
   * Per staged scope, the revisions its state was based on. Held in memory only: a promotion is the
   * only reader, and a state staged by a process that died is recovered at the next start without
   * writing any row, so no base outlives its process.
   */
  readonly #bases = new Map<string, Required<Pick<BaseRevisions, 'song'>> & BaseRevisions>();
  /** Per scope, the revisions the last promotion of that scope gave the rows it wrote. */
  readonly #promoted = new Map<string, BaseRevisions>();

  constructor(store: Store, songs: Repository<StoredSong>, performances: Repository<StoredPerformance>, history: History) {
    this.#store = store;
    this.#songs = songs;
    this.#performances = performances;
    this.#history = history;
  }

  /** A stored snapshot (its manifest_json) as the snapshot it holds. */
  /**
   * Whether the snapshot stored under `manifestJson` holds the same value as `parts` (its parts'
   * texts, compared as values: members in any order, strings whatever their escapes, numbers as written).
   */
  #sameParts(manifestJson: string, parts: Record<string, string>): boolean {
    const stored = this.#history.partTexts(parseManifest(manifestJson, 'an autosave'));
    const names = Object.keys(parts);
    if (Object.keys(stored).length !== names.length) return false;
    return names.every((name) => stored[name] !== undefined && sameCompactJson(stored[name]!, parts[name]!));
  }

  #snapshotOf(manifestJson: string): AutosaveSnapshot {
    return snapshotFromParts(this.#history.partTexts(parseManifest(manifestJson, 'an autosave')));
  }

  // -------------------------------------------------------------------------------------------
  // Staging
  // -------------------------------------------------------------------------------------------

  /**
   * Replaces the staged state of the scope and commits. Throws InvalidParams when the snapshot
   * names another song or performance, ConstraintViolation when the song or performance does not
   * exist (or the performance belongs to another song).
   *
   * `base` names the revisions the state was based on (autosave.stage `baseRevision`,
   * `performanceBaseRevision`); absent, the rows' revisions now are taken, the safest guess for a
   * host that does not say: a write made before this stage was one the host could see.
   */
  stage(
    songId: string,
    performanceId: string | undefined,
    snapshot: AutosaveSnapshot,
    requestText?: string,
    base: BaseRevisions = {},
  ): StageResult {
    checkSnapshot(songId, performanceId, snapshot);
    if (base.performance !== undefined && performanceId === undefined) {
      throw invalidParams([{ path: '/performanceBaseRevision', message: 'names the revision of a staged performance: give performanceId too' }]);
    }
    // With the request's own text at hand (a message from the wire), that text is stored as it
    // is; the snapshot is serialised when it is promoted, off the edit path.
    const body = requestText ?? snapshotText(songId, performanceId, snapshot);
    const sizeBytes = Buffer.byteLength(body);
    return this.#store.write(() => {
      this.#checkScope(songId, performanceId);
      const scope = scopeOf(songId, performanceId);
      const bases = {
        song: base.song ?? this.#songs.revisionOf(songId)!,
        ...(performanceId === undefined ? {} : { performance: base.performance ?? this.#performances.revisionOf(performanceId)! }),
      };
      // Taken once the transaction commits (Store.write nests: the outermost commit is the one).
      this.#store.afterCommit(() => this.#bases.set(scope, bases));
      const stagedAt = this.#store.now();
      this.#store
        .prepared(
          'INSERT INTO autosave_staging (scope, song_id, performance_id, body, body_kind, size_bytes, staged_at) ' +
            'VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope) DO UPDATE SET body = excluded.body, ' +
            'body_kind = excluded.body_kind, size_bytes = excluded.size_bytes, staged_at = excluded.staged_at',
        )
        .run(scopeOf(songId, performanceId), songId, performanceId ?? null, body, requestText ? 'request' : 'snapshot', sizeBytes, stagedAt);
      return { songId, ...(performanceId === undefined ? {} : { performanceId }), stagedAt, sizeBytes };
    });
  }

  #checkScope(songId: string, performanceId: string | undefined): void {
    if (this.#songs.revisionOf(songId) === undefined) throw constraintViolation('autosaves', 'songId', songId);
    if (performanceId === undefined) return;
    const owner = this.#store.prepared('SELECT song_id FROM performances WHERE id = ?').pluck().get(performanceId) as
      | string
      | undefined;
    if (owner === undefined) throw constraintViolation('autosaves', 'performanceId', performanceId);
    if (owner !== songId) {
      throw constraintViolation(
        'autosaves',
        'performanceId',
        performanceId,
        `performance "${performanceId}" belongs to song "${owner}", not "${songId}"`,
      );
    }
  }

  /** The scopes with a staged state (of one song, or all), oldest stage first. */
  stagedScopes(songId?: string): string[] {
    return this.#store
      .prepared('SELECT scope FROM autosave_staging WHERE @song IS NULL OR song_id = @song ORDER BY staged_at, scope')
      .pluck()
      .all({ song: songId ?? null }) as string[];
  }

  // -------------------------------------------------------------------------------------------
  // Promotion
  // -------------------------------------------------------------------------------------------

  /**
   * Promotes the staged state of `scope`, in one transaction. Returns undefined when nothing is
   * staged there (already promoted, or its song was deleted).
   *
   * Nothing is added when the state is already saved: equal (as a value) to the newest snapshot of
   * the scope and, in the default mode, to what the rows hold. Otherwise a snapshot is added and, in
   * the default mode, the rows are written from it when that changes them and no write happened
   * since the stage (`#atBase`); their play state is kept.
   */
  promote(scope: string, reason: AutosaveReason, options: PromoteOptions): Promotion | undefined {
    return this.#store.write(() => {
      const staged = this.#store.prepared('SELECT * FROM autosave_staging WHERE scope = ?').get(scope) as StagedRow | undefined;
      if (!staged) {
        this.#store.afterCommit(() => this.#bases.delete(scope));
        return undefined;
      }
      this.#store.prepared('DELETE FROM autosave_staging WHERE scope = ?').run(scope);
      const songId = staged.song_id;
      const performanceId = staged.performance_id ?? undefined;
      // A staged request is parsed once here; its snapshot is what the song is saved from.
      const staging = stagedSnapshot(staged.body, staged.body_kind);
      const snapshot = withIds(songId, performanceId, staging.snapshot);
      const newest = this.#newestInScope(songId, staged.performance_id);
      const parts = snapshotParts(snapshot);
      const manifest = JSON.stringify(this.#history.storeParts(parts));
      const sameAsNewest = newest !== undefined && (newest.manifest_json === manifest || this.#sameParts(newest.manifest_json, parts));

      // The rows this state would change; each of them must still be as the stage found it.
      const song = withoutPlayState(snapshot.song) as unknown as Model & { id: string };
      const perf = snapshot.performance && (withoutPlayState(snapshot.performance) as unknown as Model & { id: string });
      const writeSong = options.mode === 'snapshot-and-song' && this.#songs.wouldChange(song);
      const writePerf = options.mode === 'snapshot-and-song' && perf !== undefined && this.#performances.wouldChange(perf);
      let kept: RowsKept | undefined;
      if (options.mode === 'snapshot-only') kept = 'snapshot-only';
      else if (!writeSong && !writePerf) kept = 'rows-hold-state';
      else if ((writeSong && !this.#atBase(scope, 'song', song.id)) || (writePerf && !this.#atBase(scope, 'performance', perf!.id))) {
        kept = 'row-changed';
      }
      // Already saved everywhere it goes: the newest snapshot holds it and the rows need nothing
      // (they hold it, or this mode leaves them). A state the rows do not hold because they were
      // written since the stage is not that: it is added, and autosave.saved tells the host so.
      if (sameAsNewest && (kept === 'rows-hold-state' || kept === 'snapshot-only')) return { added: false, autosaveId: newest.id };

      if (kept === undefined) {
        // Written with their play state left out: the rows keep theirs (keepWhenAbsent).
        const own = { ...this.#promoted.get(scope) };
        this.#history.as('autosave', () => {
          if (writeSong) own.song = this.#songs.save(song, '/snapshot/song').revision;
          if (writePerf) own.performance = this.#performances.save(perf!, '/snapshot/performance').revision;
        });
        this.#store.afterCommit(() => this.#promoted.set(scope, own));
      }
      const revision = this.#songs.revisionOf(songId)!;
      const performanceRevision = performanceId === undefined ? undefined : this.#performances.revisionOf(performanceId);
      const added = this.#insert(songId, staged.performance_id, manifest, staging.bytes, reason, options);
      return {
        added: true,
        snapshot: {
          ...added,
          rowWritten: kept === undefined,
          ...(kept === undefined ? {} : { reason: kept }),
          revision,
          ...(performanceRevision === undefined ? {} : { performanceRevision }),
        },
      };
    });
  }

  /**
   * Whether the `which` row (`id`) a promotion of `scope` would write is still as the staged state
   * found it: at the revision the stage was based on, or at the one this scope's own last
   * promotion gave it (a host that does not follow autosave.saved keeps sending its first base).
   * A row whose content is past both was written by someone else since (songs.update, another
   * scope's promotion, a restore): that write is the newer, and it is not undone. A row past them
   * only in play state (setFavorite, markPlayed) is still at its base: a promotion keeps the row's
   * play state, so it undoes nothing there. A scope
   * with no base in memory (staged before the database file was replaced) counts as changed.
   */
  #atBase(scope: string, which: 'song' | 'performance', id: string): boolean {
    const base = this.#bases.get(scope)?.[which];
    if (base === undefined) return false;
    const repo = which === 'song' ? this.#songs : this.#performances;
    const now = repo.revisionOf(id);
    const own = this.#promoted.get(scope)?.[which];
    if (now === undefined) return false;
    if (now === base || now === own) return true;
    // Moved on since only in play state (the favourite button or a play while the song is open):
    // its content is still what the stage was based on, and a promotion never writes play state,
    // so writing the row loses nothing. Every write of content records a version with its revision.
    const known = Math.max(base, own ?? 0);
    const content = this.#history.contentRevision(repo.desc.entity, id);
    return now > known && content !== undefined && content <= known;
  }

  /** Forgets every base and own promotion (the database file was replaced: they name other rows). */
  forgetRevisions(): void {
    this.#bases.clear();
    this.#promoted.clear();
  }

  /** Promotes every staged state (of one song, or all) in one transaction. */
  promoteAll(reason: AutosaveReason, options: PromoteOptions, songId?: string): { added: Promoted[]; unchanged: number } {
    // Nothing staged (the interval and shutdown of an idle session): no write transaction, which
    // would take the write lock from another program on the file for nothing, or wait for it.
    if (this.stagedScopes(songId).length === 0) return { added: [], unchanged: 0 };
    return this.#store.write(() => {
      const added: Promoted[] = [];
      let unchanged = 0;
      for (const scope of this.stagedScopes(songId)) {
        const p = this.promote(scope, reason, options);
        if (p?.added) added.push(p.snapshot);
        else if (p) unchanged++;
      }
      return { added, unchanged };
    });
  }

  #newestInScope(songId: string, performanceId: string | null): { id: string; manifest_json: string } | undefined {
    return this.#store
      .prepared(
        'SELECT id, manifest_json FROM autosaves WHERE song_id = ? AND performance_id IS ? ' +
          'ORDER BY created_at DESC, id DESC LIMIT 1',
      )
      .get(songId, performanceId) as { id: string; manifest_json: string } | undefined;
  }

  /** Adds a snapshot, then prunes the song's snapshots beyond `keep` (recovered ones are kept). */
  #insert(
    songId: string,
    performanceId: string | null,
    manifestJson: string,
    sizeBytes: number,
    reason: AutosaveReason,
    options: PromoteOptions,
  ): Pick<Promoted, 'autosaveId' | 'songId' | 'performanceId' | 'at'> {
    const last = this.#store.prepared('SELECT max(created_at) FROM autosaves WHERE song_id = ?').pluck().get(songId) as
      | number
      | null;
    const at = Math.max(this.#store.now(), (last ?? -Infinity) + 1);
    const id = randomUUID();
    this.#store
      .prepared(
        'INSERT INTO autosaves (id, song_id, performance_id, name, manifest_json, created_at, size_bytes, recovered, reason) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        id,
        songId,
        performanceId,
        `${NAME_PREFIX[reason]} ${clockTime(at)}`,
        manifestJson,
        at,
        sizeBytes,
        options.recovered ? 1 : 0,
        reason,
      );
    this.#store.recordChange('autosaves', 'insert', [id]);
    const pruned = this.#store
      .prepared(
        'DELETE FROM autosaves WHERE song_id = ? AND recovered = 0 AND id IS NOT ? AND id NOT IN ' +
          '(SELECT id FROM autosaves WHERE song_id = ? ORDER BY created_at DESC, id DESC LIMIT ?) RETURNING id',
      )
      .pluck()
      .all(songId, options.spare ?? null, songId, options.keep) as string[];
    if (pruned.length) this.#store.recordChange('autosaves', 'delete', pruned);
    return { autosaveId: id, songId, ...(performanceId === null ? {} : { performanceId }), at };
  }

  /**
   * Writes a snapshot's song and performance to their tables. The rows keep their play state
   * (isFavorite, playCount, lastPlayedAt) whatever the snapshot holds: it records use of the song,
   * not an edit, and the editor's copy of it may be stale.
   */
  #writeRows(snapshot: AutosaveSnapshot): { song: StoredSong; performance?: StoredPerformance } {
    const model = <T extends object>(m: T): Model => withoutPlayState(m) as unknown as Model;
    const song = this.#songs.save(model(snapshot.song), '/snapshot/song');
    const performance = snapshot.performance ? this.#performances.save(model(snapshot.performance), '/snapshot/performance') : undefined;
    return { song, ...(performance ? { performance } : {}) };
  }

  // -------------------------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------------------------

  /** A song's snapshots, newest first, without bodies (keyset pages). */
  list(songId: string, options: { performanceId?: string; limit?: number; cursor?: string } = {}): Page<AutosaveSummary> {
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    // A cursor is bound to the song (and performance) whose snapshots it walks.
    const scope = { '(list)': 'autosaves', songId, performanceId: options.performanceId };
    const [afterAt, afterId] = options.cursor ? decodeCursor(options.cursor, 'createdAt', 'desc', scope) : [null, null];
    const rows = this.#store
      .prepared(
        `SELECT ${SUMMARY_COLUMNS} FROM autosaves WHERE song_id = @song ` +
          'AND (@perf IS NULL OR performance_id = @perf) ' +
          'AND (@at IS NULL OR created_at < @at OR (created_at = @at AND id < @id)) ' +
          'ORDER BY created_at DESC, id DESC LIMIT @limit',
      )
      .all({ song: songId, perf: options.performanceId ?? null, at: afterAt, id: afterId, limit: limit + 1 }) as AutosaveRow[];
    const items = rows.slice(0, limit).map(summaryOf);
    const last = items[items.length - 1];
    return rows.length > limit && last ? { items, nextCursor: encodeCursor('createdAt', 'desc', last.createdAt, last.id, scope) } : { items };
  }

  /** One snapshot with its body. Throws NotFound. */
  get(id: string): AutosaveSummary & { snapshot: AutosaveSnapshot } {
    const row = this.#row(id);
    return { ...summaryOf(row), snapshot: this.#snapshotOf(row.manifest_json!) };
  }

  #row(id: string): AutosaveRow {
    const row = this.#store.prepared(`SELECT ${SUMMARY_COLUMNS}, manifest_json FROM autosaves WHERE id = ?`).get(id) as
      | AutosaveRow
      | undefined;
    if (!row) throw notFound('autosaves', id);
    return row;
  }

  /**
   * Snapshots recovered at start and not yet restored or deleted, oldest first (by createdAt, then
   * id), in keyset pages.
   */
  recoverable(options: { limit?: number; cursor?: string } = {}): Page<AutosaveSummary> {
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    const scope = { list: 'recoverable' };
    const [at, id] = options.cursor === undefined ? [null, null] : decodeCursor(options.cursor, 'createdAt', 'asc', scope);
    const rows = this.#store
      .prepared(
        `SELECT ${SUMMARY_COLUMNS} FROM autosaves WHERE recovered = 1 ` +
          'AND (@at IS NULL OR created_at > @at OR (created_at = @at AND id > @id)) ' +
          'ORDER BY created_at, id LIMIT @limit',
      )
      .all({ at, id, limit: limit + 1 }) as AutosaveRow[];
    const items = rows.slice(0, limit).map(summaryOf);
    const last = items[limit - 1];
    return rows.length > limit && last
      ? { items, nextCursor: encodeCursor('createdAt', 'asc', last.createdAt, last.id, scope) }
      : { items };
  }

  // -------------------------------------------------------------------------------------------
  // Restore and delete
  // -------------------------------------------------------------------------------------------

  /**
   * Makes snapshot `id` the state of its song (and performance), in one transaction. The live state
   * it replaces becomes a snapshot first (`undoId`): what is staged for the scope if anything is,
   * otherwise the rows as they are. Everything else staged for the song becomes a snapshot too.
   * Throws NotFound.
   */
  restore(id: string, options: { keep: number }): RestoreResult {
    return this.#store.write(() => {
      const row = this.#row(id);
      const snapshot = this.#snapshotOf(row.manifest_json!);
      const scope = scopeOf(row.song_id, row.performance_id);
      // The snapshot being restored is spared by retention: it stays restorable.
      const opts: PromoteOptions = { mode: 'snapshot-only', keep: options.keep, spare: id };
      const staged = this.promote(scope, 'pre-restore', opts);
      // The song's other staged states (song alone, other performances) are promoted too, without
      // writing rows, so that none of them can later overwrite the rows this restore writes.
      for (const other of this.stagedScopes(row.song_id)) this.promote(other, 'pre-restore', opts);
      let undoId: string;
      if (staged) {
        undoId = staged.added ? staged.snapshot.autosaveId : staged.autosaveId;
      } else {
        const current: AutosaveSnapshot = {
          song: this.#songs.get(row.song_id),
          ...(row.performance_id === null ? {} : { performance: this.#performances.get(row.performance_id) }),
        };
        const manifest = JSON.stringify(this.#history.storeParts(snapshotParts(current)));
        undoId = this.#insert(row.song_id, row.performance_id, manifest, Buffer.byteLength(JSON.stringify(current)), 'pre-restore', opts).autosaveId;
      }
      const written = this.#history.as('restore', () => this.#writeRows(snapshot));
      const cleared = this.#store
        .prepared('UPDATE autosaves SET recovered = 0, revision = revision + 1 WHERE id = ? AND recovered = 1')
        .run(id);
      if (cleared.changes) this.#store.recordChange('autosaves', 'update', [id]);
      return { ...written, ...(snapshot.state === undefined ? {} : { state: snapshot.state }), undoId };
    });
  }

  /** Deletes one snapshot. Throws NotFound. */
  delete(id: string): DeleteResult {
    return this.#store.write(() => {
      const gone = this.#store.prepared('DELETE FROM autosaves WHERE id = ?').run(id);
      if (!gone.changes) throw notFound('autosaves', id);
      this.#store.recordChange('autosaves', 'delete', [id]);
      return { ids: [id], count: 1, cascaded: {} };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Settings
  // -------------------------------------------------------------------------------------------

  /** The settings autosave.configure stored, over the defaults. */
  settings(): AutosaveSettings {
    const text = this.#store.prepared('SELECT value FROM metadata WHERE key = ?').pluck().get(SETTINGS_KEY) as string | undefined;
    let stored: Partial<AutosaveSettings> = {};
    if (text !== undefined) {
      try {
        stored = JSON.parse(text) as Partial<AutosaveSettings>;
      } catch {
        stored = {};
      }
    }
    return { ...DEFAULT_AUTOSAVE_SETTINGS, ...stored };
  }

  /** Merges `patch` into the stored settings and answers the result. */
  saveSettings(patch: Partial<AutosaveSettings>): AutosaveSettings {
    return this.#store.write(() => {
      const next: AutosaveSettings = { ...this.settings() };
      for (const [k, v] of Object.entries(patch)) if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
      this.#store
        .prepared('INSERT INTO metadata (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
        .run(SETTINGS_KEY, JSON.stringify(next));
      return next;
    });
  }
}
