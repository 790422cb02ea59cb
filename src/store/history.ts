/**
 * Version history and trash of songs and performances (sql/0005).
 *
 * Every committed state of a record is a version, recorded in the transaction that writes it:
 * `{id, seq, entity, entityId, revision, createdAt, source, label?, pinned, deviceId, sizeBytes}`
 * and a manifest naming the part-store root of each of its parts: `fields` (the record without its
 * structured parts, as JSON) and one per structured part (`sections`, `mixGraph`, …). The parts
 * are stored once by content (parts.ts), so versions of a song that differ in one section share
 * the rest, and an autosave of the same state shares them too.
 *
 * `seq` orders the versions of the whole file and is never reused (a change feed), and each
 * version names the device that made it (metadata `device_id`, made once per database).
 *
 * Retention (thinning): of the unpinned versions of a record, all of the last `keepAllHours`
 * are kept, then the newest of each hour for `hourlyDays` days, then the newest of each day;
 * the newest version of a record and pinned versions are never thinned. Thinning runs for the
 * record each time a version of it is recorded, over its versions older than `keepAllHours`.
 */
import { randomUUID } from 'node:crypto';
import { storageCorrupt } from '../errors.js';
import * as validators from '../generated/validators.js';
import { MAX_JSON_DEPTH, tooDeepPointer } from '../json-limits.js';
import { answerAs, compactJson, partTextOf, scanJson, withMembers, withMembersPieces, withPartTexts } from '../json-text.js';
import type { Statement } from 'better-sqlite3';
import { fieldsText, partColumns, partTextsOfRow, type EntityDescriptor, type Row } from './entity.js';
import { ENTITIES } from './entities.js';
import { hasLooseSpace, PartStore } from './parts.js';
import type { RepositoryHooks } from './repository.js';

/** The families whose records have history and a trash. */
export const HISTORY_FAMILIES: ReadonlySet<string> = new Set(['songs', 'performances']);

/** A record in the trash. */
export interface TrashEntry {
  entity: string;
  id: string;
  name: string;
  songId?: string;
  /** Deleted by the delete of this song: restoring the song brings it back too. */
  withSongId?: string;
  deletedAt: number;
  versionId: string;
}

interface TrashRow {
  entity: string;
  entity_id: string;
  name: string;
  song_id: string | null;
  with_song_id: string | null;
  deleted_at: number;
  version_id: string;
}

export function trashEntry(r: TrashRow): TrashEntry {
  return {
    entity: r.entity,
    id: r.entity_id,
    name: r.name,
    ...(r.song_id === null ? {} : { songId: r.song_id }),
    ...(r.with_song_id === null ? {} : { withSongId: r.with_song_id }),
    deletedAt: r.deleted_at,
    versionId: r.version_id,
  };
}

/** A compiled JSON Schema validator (src/generated/validators.ts). */
interface Validator {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string }[] | null;
}

export type VersionSource = 'save' | 'autosave' | 'restore' | 'import' | 'delete';

/** What history needs of a connection: cached statements and a clock (Store, or a migration's). */
export interface Sql {
  prepared(sql: string): Statement;
  now(): number;
  /** Runs `fn` once the write in progress commits (never if it rolls back); at once outside a write. */
  afterCommit?(fn: () => void): void;
}

export interface VersionInfo {
  versionId: string;
  seq: number;
  entity: string;
  entityId: string;
  revision: number;
  createdAt: number;
  source: VersionSource;
  label?: string;
  pinned: boolean;
  deviceId: string;
  sizeBytes: number;
}

/** A version as an export carries it: its facts (no seq: that is the file's own) and manifest. */
export type ExportedVersion = Omit<VersionInfo, 'seq'> & { manifest: Record<string, string> };

/** History in an export: versions and the part-store nodes they need, children first. */
export interface ExportedHistory {
  versions: ExportedVersion[];
  parts: [string, string][];
}

export interface RetentionPolicy {
  /** Every version of the last this many hours is kept. */
  keepAllHours: number;
  /** Then the newest of each hour, for this many days. */
  hourlyDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { keepAllHours: 24, hourlyDays: 30 };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RETENTION_KEY = 'history_retention';
const DEVICE_KEY = 'device_id';

interface VersionRow {
  seq: number;
  id: string;
  entity: string;
  entity_id: string;
  revision: number;
  created_at: number;
  source: VersionSource;
  label: string | null;
  pinned: number;
  device_id: string;
  size_bytes: number;
  manifest_json: string;
}

export function versionInfo(r: VersionRow): VersionInfo {
  return {
    versionId: r.id,
    seq: r.seq,
    entity: r.entity,
    entityId: r.entity_id,
    revision: r.revision,
    createdAt: r.created_at,
    source: r.source,
    ...(r.label === null ? {} : { label: r.label }),
    pinned: r.pinned === 1,
    deviceId: r.device_id,
    sizeBytes: r.size_bytes,
  };
}

/**
 * The record's parts as texts: `fields` and each structured part present (from a row: the parts
 * are the stored texts, never parsed here).
 */
function partsOfRow(desc: EntityDescriptor, row: Row): Record<string, string> {
  return { fields: fieldsText(desc, row), ...Object.fromEntries(partTextsOfRow(desc, row)) };
}

/**
 * The size of a version: the UTF-8 bytes of the record's JSON text as getVersion answers it (its
 * fields with its parts put in), as an autosave's sizeBytes counts its snapshot's.
 */
export function recordBytes(fields: string, parts: Iterable<readonly [string, string]>): number {
  let bytes = 0;
  for (const piece of withMembersPieces(fields, parts)) bytes += Buffer.byteLength(piece);
  return bytes;
}

/**
 * A record from the texts of its fields and parts: parsed (StorageCorrupt naming `prefix.part` for
 * a text that is not JSON), carrying its part texts, and answered as those texts spliced together.
 */
export function recordFromTexts(fields: string, parts: ReadonlyMap<string, string>, prefix = ''): Record<string, unknown> {
  const record = parsePart(`${prefix}fields`, fields) as Record<string, unknown>;
  for (const [name, text] of parts) {
    // The answer is the fields' text with the parts put in: a member of fields of a part's name
    // would be named twice (a file another tool, or an import before this check, made).
    if (typeof record === 'object' && record !== null && Object.hasOwn(record, name)) {
      const details = `stored part "${prefix}fields" holds "${name}", which is a part of its own`;
      throw storageCorrupt(details);
    }
    record[name] = parsePart(`${prefix}${name}`, text);
  }
  return answerAs(withPartTexts(record, parts), withMembers(fields, parts));
}

/** The record's parts as texts (from a model: an autosave snapshot's song or performance). */
export function partsOfModel(desc: EntityDescriptor, model: Record<string, unknown>): Record<string, string> {
  const rest = { ...model };
  const parts: Record<string, string> = {};
  for (const { path } of partColumns(desc)) {
    const value = rest[path];
    delete rest[path];
    if (value !== undefined) parts[path] = partTextOf(model, path) ?? JSON.stringify(value);
  }
  return { fields: JSON.stringify(rest), ...parts };
}

const LINE_BREAK = /[\n\r]/;

/**
 * A stored part's text parsed. The part store only ever holds JSON it was given; a text that does
 * not parse was made by another tool, and is answered StorageCorrupt (-32012), naming the part.
 */
export function parsePart(name: string, text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const details = `stored part "${name}" is not JSON (${(err as Error).message})`;
    throw storageCorrupt(details);
  }
  // A JSON text holds a line break only between tokens, and answers hold stored texts as they are:
  // one would split an NDJSON answer over two lines. The store writes none.
  if (LINE_BREAK.test(text)) {
    const details = `stored part "${name}" is not compact JSON (a line break between its tokens)`;
    throw storageCorrupt(details);
  }
  return value;
}


/**
 * A stored manifest (`manifest_json` of a version or an autosave): the names of a record's parts
 * and the hashes of their roots. The store writes only such objects; anything else was written by
 * another tool, and is answered StorageCorrupt (-32012), naming the row.
 */
export function parseManifest(text: string, where: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((h) => typeof h === 'string')) {
    const details = `the manifest of ${where} is not an object of part names and hashes`;
    throw storageCorrupt(details);
  }
  return value as Record<string, string>;
}

export class History {
  readonly #sql: Sql;
  readonly parts: PartStore;
  #source: VersionSource = 'save';
  #device: string | undefined;
  #retention: RetentionPolicy | undefined;

  constructor(sql: Sql) {
    this.#sql = sql;
    this.parts = new PartStore(sql);
  }

  /** Runs `fn` with the versions it records marked as coming from `source`. */
  as<T>(source: VersionSource, fn: () => T): T {
    const before = this.#source;
    this.#source = source;
    try {
      return fn();
    } finally {
      this.#source = before;
    }
  }

  /**
   * Remembers what was read from the file once the write it was read in commits: a value a write
   * made and then rolled back (its first version on a full disk, a history.configure whose commit
   * failed) is never taken for what the file holds.
   */
  #remember(fn: () => void): void {
    if (this.#sql.afterCommit) this.#sql.afterCommit(fn);
    else fn();
  }

  /** The id of the database that records versions (metadata `device_id`, made with the first one). */
  get deviceId(): string {
    if (this.#device !== undefined) return this.#device;
    let id = this.#sql.prepared('SELECT value FROM metadata WHERE key = ?').pluck().get(DEVICE_KEY) as string | undefined;
    if (id === undefined) {
      id = randomUUID();
      this.#sql.prepared('INSERT INTO metadata (key, value) VALUES (?, ?)').run(DEVICE_KEY, id);
    }
    const known = id;
    this.#remember(() => (this.#device = known));
    return id;
  }

  /**
   * What the repositories of songs and performances call in their write transactions: every full
   * write records a version; a delete records each deleted record's last state as a `delete`
   * version and puts it in the trash (a song's performances with it).
   */
  readonly hooks: RepositoryHooks = {
    written: (desc, row) => {
      if (!HISTORY_FAMILIES.has(desc.entity)) return undefined;
      // A record created again with an id that has history (in the trash, or deleted and emptied
      // only in part) goes on from its highest revision: a revision names one state of an id.
      let final = row;
      const newest = this.#sql
        .prepared('SELECT revision FROM versions WHERE entity = ? AND entity_id = ? ORDER BY seq DESC LIMIT 1')
        .pluck()
        .get(desc.entity, row.id) as number | undefined;
      if (newest !== undefined && newest >= (row.revision as number)) {
        final = this.#sql.prepared(`UPDATE "${desc.table}" SET revision = ? WHERE id = ? RETURNING *`).get(newest + 1, row.id) as Row;
      }
      this.record(desc, final);
      return final;
    },
    deleting: (desc, ids, cascades) => {
      if (!HISTORY_FAMILIES.has(desc.entity)) return;
      const now = this.#sql.now();
      this.#trash(desc, ids, now, false);
      for (const [family, removed] of cascades) {
        if (family !== desc.entity && HISTORY_FAMILIES.has(family) && removed.size) this.#trash(ENTITIES[family]!, [...removed], now, true);
      }
      this.purgeTrash(now);
    },
  };

  /** Records the last state of each record and puts it in the trash. */
  #trash(desc: EntityDescriptor, ids: string[], now: number, cascaded: boolean): void {
    const read = this.#sql.prepared(`SELECT * FROM "${desc.table}" WHERE id = ?`);
    const put = this.#sql.prepared(
      `INSERT INTO trash (entity, entity_id, name, song_id, with_song_id, deleted_at, version_id) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (entity, entity_id) DO UPDATE SET name = excluded.name, song_id = excluded.song_id,
         with_song_id = excluded.with_song_id, deleted_at = excluded.deleted_at, version_id = excluded.version_id`,
    );
    for (const id of ids) {
      const row = read.get(id) as Row | undefined;
      if (!row) continue;
      const version = this.record(desc, row, { source: 'delete', at: now });
      const songId = typeof row.song_id === 'string' ? row.song_id : null;
      put.run(desc.entity, id, row.name, songId, cascaded ? songId : null, now, version.versionId);
    }
  }

  /** One trash entry, or undefined. */
  trashed(entity: string, id: string): TrashEntry | undefined {
    const r = this.#sql.prepared('SELECT * FROM trash WHERE entity = ? AND entity_id = ?').get(entity, id) as TrashRow | undefined;
    return r && trashEntry(r);
  }

  /** The trash, newest first (keyset after (deletedAt, entity, id) when given). */
  trashList(entity: string | undefined, limit: number, after?: [number, string, string]): TrashEntry[] {
    const rows = this.#sql
      .prepared(
        `SELECT * FROM trash WHERE (@entity IS NULL OR entity = @entity)
           AND (@at IS NULL OR (deleted_at, entity, entity_id) < (@at, @afterEntity, @afterId))
         ORDER BY deleted_at DESC, entity DESC, entity_id DESC LIMIT @limit`,
      )
      .all({ entity: entity ?? null, at: after?.[0] ?? null, afterEntity: after?.[1] ?? null, afterId: after?.[2] ?? null, limit }) as TrashRow[];
    return rows.map(trashEntry);
  }

  /**
   * The performances in the trash that the delete of `songId` at `deletedAt` put there (not those
   * an earlier delete of a song with that id took).
   */
  trashedWithSong(songId: string, deletedAt: number): TrashEntry[] {
    const rows = this.#sql
      .prepared("SELECT * FROM trash WHERE entity = 'performances' AND with_song_id = ? AND deleted_at = ? ORDER BY entity_id")
      .all(songId, deletedAt) as TrashRow[];
    return rows.map(trashEntry);
  }

  /** Takes a record out of the trash (it was restored): its history stays. */
  untrash(entity: string, id: string): void {
    this.#sql.prepared('DELETE FROM trash WHERE entity = ? AND entity_id = ?').run(entity, id);
  }

  /**
   * Empties the trash of entries deleted before `before` (all of it when undefined): each entry
   * goes with the versions of its record up to its delete version, unless the record exists again
   * (then its history is its own). Answers the entries removed.
   */
  emptyTrash(before?: number): TrashEntry[] {
    const rows = this.#sql
      .prepared('SELECT * FROM trash WHERE @before IS NULL OR deleted_at < @before ORDER BY deleted_at')
      .all({ before: before ?? null }) as TrashRow[];
    const drop = this.#sql.prepared('DELETE FROM trash WHERE entity = ? AND entity_id = ?');
    const seqOf = this.#sql.prepared('SELECT seq FROM versions WHERE id = ?').pluck();
    const forget = this.#sql.prepared('DELETE FROM versions WHERE entity = ? AND entity_id = ? AND seq <= ? AND id NOT IN (SELECT version_id FROM trash)');
    for (const r of rows) {
      drop.run(r.entity, r.entity_id);
      const live = this.#sql.prepared(`SELECT 1 FROM "${ENTITIES[r.entity]!.table}" WHERE id = ?`).get(r.entity_id) !== undefined;
      if (!live) forget.run(r.entity, r.entity_id, seqOf.get(r.version_id) as number);
    }
    return rows.map(trashEntry);
  }

  /** Forgets what it read from the file (the store reopened another file). */
  reset(): void {
    this.#device = undefined;
    this.#retention = undefined;
  }

  /** Stores parts (texts by name) and answers the manifest: part name -> root hash. */
  storeParts(parts: Record<string, string>): Record<string, string> {
    const manifest: Record<string, string> = {};
    for (const [name, text] of Object.entries(parts)) manifest[name] = this.parts.put(text);
    return manifest;
  }

  /** The parts of a manifest as texts. */
  partTexts(manifest: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(manifest).map(([name, hash]) => [name, this.parts.text(hash)]));
  }

  /** The record a manifest holds (parts parsed and put back in place). Throws StorageCorrupt. */
  recordOf(manifest: Record<string, string>): Record<string, unknown> {
    const { fields = '{}', ...parts } = this.partTexts(manifest);
    return recordFromTexts(fields, new Map(Object.entries(parts)));
  }

  /**
   * Records the state `row` of a record of `desc` as a version (source: the one `as` set, or
   * `options.source`). Thins the record's versions. Answers the version.
   */
  record(desc: EntityDescriptor, row: Row, options: { source?: VersionSource; label?: string; pinned?: boolean; at?: number } = {}): VersionInfo {
    const parts = partsOfRow(desc, row);
    const manifest = this.storeParts(parts);
    const { fields, ...structured } = parts;
    const size = recordBytes(fields!, Object.entries(structured));
    const id = randomUUID();
    const createdAt = options.at ?? this.#sql.now();
    const inserted = this.#sql
      .prepared(
        `INSERT INTO versions (id, entity, entity_id, revision, created_at, source, label, pinned, device_id, size_bytes, manifest_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        id,
        desc.entity,
        row.id,
        row.revision,
        createdAt,
        options.source ?? this.#source,
        options.label ?? null,
        options.pinned ? 1 : 0,
        this.deviceId,
        size,
        JSON.stringify(manifest),
      ) as VersionRow;
    this.thin(desc.entity, row.id as string, createdAt);
    return versionInfo(inserted);
  }

  /** Records the current state of record `id` of `desc` (saveVersion). Undefined when there is none. */
  recordCurrent(desc: EntityDescriptor, id: string, options: { source?: VersionSource; label?: string; pinned?: boolean } = {}): VersionInfo | undefined {
    const row = this.#sql.prepared(`SELECT * FROM "${desc.table}" WHERE id = ?`).get(id) as Row | undefined;
    return row && this.record(desc, row, options);
  }

  /** How many days deleted records stay in the trash (the preference trashRetentionDays). */
  get trashRetentionDays(): number {
    return (this.#sql.prepared("SELECT trash_retention_days FROM user_preferences WHERE id = 'default'").pluck().get() as number | undefined) ?? 30;
  }

  /** Empties the trash of what is older than trashRetentionDays. Answers the entries removed. */
  purgeTrash(now = this.#sql.now()): TrashEntry[] {
    return this.emptyTrash(now - this.trashRetentionDays * DAY);
  }

  /** Whether purgeTrash would remove anything (a read: start-up takes no write lock for nothing). */
  trashToPurge(now = this.#sql.now()): boolean {
    return this.#sql.prepared('SELECT 1 FROM trash WHERE deleted_at < ? LIMIT 1').get(now - this.trashRetentionDays * DAY) !== undefined;
  }

  /**
   * The history of some records for an export: their versions (with manifests) and the part-store
   * nodes the manifests reach, children first.
   */
  exportHistory(records: { entity: string; id: string }[]): ExportedHistory {
    const versions: ExportedVersion[] = [];
    const roots = new Set<string>();
    const read = this.#sql.prepared('SELECT * FROM versions WHERE entity = ? AND entity_id = ? ORDER BY seq');
    for (const r of records) {
      for (const v of read.all(r.entity, r.id) as VersionRow[]) {
        const manifest = parseManifest(v.manifest_json, `version ${v.id}`);
        for (const h of Object.values(manifest)) roots.add(h);
        const { seq: _seq, ...info } = versionInfo(v);
        versions.push({ ...info, manifest });
      }
    }
    return { versions, parts: this.parts.nodesOf(roots) };
  }

  /**
   * Imports exported history: its nodes, then each version not already stored (by versionId), for
   * the records `ids` maps (file id -> stored id; absent: not imported). Answers the versions
   * added; throws the first problem as an ImportError-like {path, message}.
   */
  importHistory(history: ExportedHistory, ids: ReadonlyMap<string, string>): number {
    const refuse = (why: string, at: string): never => {
      throw Object.assign(new Error(why), { importPath: at });
    };
    history.parts.forEach(([hash, text], i) => {
      const why = this.parts.putNode(hash, text);
      if (why) refuse(why, `/history/parts/${i}`);
    });
    const exists = this.#sql.prepared('SELECT 1 FROM versions WHERE id = ?');
    const hasPart = this.#sql.prepared('SELECT 1 FROM parts WHERE hash = ?');
    const insert = this.#sql.prepared(
      `INSERT INTO versions (id, entity, entity_id, revision, created_at, source, label, pinned, device_id, size_bytes, manifest_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Each part is read once (versions share them): JSON, at most MAX_JSON_DEPTH deep.
    const parsed = new Map<string, { value: unknown; text: string } | string>();
    const part = (hash: string): { value: unknown; text: string } | string => {
      let p = parsed.get(hash);
      if (p === undefined) {
        try {
          const text = this.parts.text(hash);
          const value = JSON.parse(text) as unknown;
          const deep = tooDeepPointer(value);
          // Answers hold stored texts as they are: a part must be compact, as a save stores it (a
          // line break between tokens would split an NDJSON answer). Refused, not compacted: the
          // text is the one its hash names. (A scan for white space costs a tenth of JSON.parse.)
          if (deep !== undefined) p = `is nested deeper than ${MAX_JSON_DEPTH} levels`;
          else if (hasLooseSpace(text)) p = 'is not compact JSON (white space between its tokens)';
          else p = { value, text };
        } catch (err) {
          p = `is not JSON once its parts are put together (${(err as Error).message})`;
        }
        parsed.set(hash, p);
      }
      return p;
    };
    const seen = new Set<string>();
    let added = 0;
    history.versions.forEach((v, i) => {
      const at = `/history/versions/${i}`;
      if (seen.has(v.versionId)) refuse('has the versionId of a version before it in the file', `${at}/versionId`);
      seen.add(v.versionId);
      const to = ids.get(`${v.entity}\n${v.entityId}`);
      if (to === undefined) return;
      const desc = ENTITIES[v.entity]!;
      const names = new Set(['fields', ...partColumns(desc).map((c) => c.path)]);
      if (v.manifest.fields === undefined) refuse('has no "fields" part', `${at}/manifest`);
      const record: Record<string, unknown> = {};
      let fieldsText = '{}';
      const partTexts: [string, string][] = [];
      for (const [name, hash] of Object.entries(v.manifest)) {
        if (!names.has(name)) refuse(`names a part "${name}" that a ${v.entity} record does not have`, `${at}/manifest`);
        if (!hasPart.get(hash)) refuse(`names part ${hash}, which is neither in the file nor stored`, `${at}/manifest/${name}`);
        const p = part(hash);
        if (typeof p === 'string') refuse(`part "${name}" ${p}`, `${at}/manifest/${name}`);
        const { value, text } = p as { value: unknown; text: string };
        if (name === 'fields') fieldsText = text;
        else partTexts.push([name, text]);
        if (name !== 'fields') record[name] = value;
        else if (typeof value !== 'object' || value === null || Array.isArray(value)) refuse('has a "fields" part that is not an object', `${at}/manifest/fields`);
        else {
          // A structured part is a part of its own, never a member of fields, and fields name each
          // member once, as a save writes them (the answer would name one twice). Fields are small:
          // their whole compact form is cheap to compare.
          const inFields = [...names].find((n) => n !== 'fields' && Object.hasOwn(value, n));
          if (inFields !== undefined) refuse(`has a "fields" part holding "${inFields}", which is a part of its own`, `${at}/manifest/fields`);
          if (compactJson(text) !== text) refuse('has a "fields" part that names a member twice', `${at}/manifest/fields`);
          Object.assign(record, { ...(value as Record<string, unknown>) });
        }
      }
      if (record.id !== undefined && record.id !== v.entityId) refuse(`holds the record ${JSON.stringify(record.id)}, not ${JSON.stringify(v.entityId)}`, `${at}/manifest/fields`);
      const validate = (validators as unknown as Record<string, Validator>)[`${v.entity}_save__params`]!;
      if (!validate({ item: { ...record, id: v.entityId } })) {
        const e = validate.errors?.[0];
        refuse(`holds a record a save refuses: ${(e?.instancePath ?? '').replace(/^\/item/, '') || '/'} ${e?.message ?? 'is not valid'}`, `${at}/manifest`);
      }
      // A copy (duplicate) gets versions of its own, holding its own id, and a performance copied
      // with its song the copy's songId (the rest of its fields as written: a restore of one of
      // them must not move it back to the original); an import of the same record skips the
      // versions it has.
      const copy = to !== v.entityId;
      if (!copy && exists.get(v.versionId)) return;
      let manifest = v.manifest;
      const renames = new Map<string, string>();
      if (copy) renames.set('/id', to);
      const songCopy = typeof record.songId === 'string' ? ids.get(`songs\n${record.songId}`) : undefined;
      if (v.entity === 'performances' && songCopy !== undefined && songCopy !== record.songId) renames.set('/songId', songCopy);
      if (renames.size) {
        fieldsText = scanJson(fieldsText, { visit: (pointer) => (renames.has(pointer) ? JSON.stringify(renames.get(pointer)) : undefined) });
        manifest = { ...manifest, fields: this.parts.put(fieldsText) };
      }
      const size = recordBytes(fieldsText, partTexts);
      insert.run(copy ? randomUUID() : v.versionId, v.entity, to, v.revision, v.createdAt, v.source, v.label ?? null, v.pinned ? 1 : 0, v.deviceId, size, JSON.stringify(manifest));
      added++;
    });
    return added;
  }


  /** One version's facts, or undefined. */
  info(versionId: string): VersionInfo | undefined {
    const r = this.#sql.prepared('SELECT * FROM versions WHERE id = ?').get(versionId) as VersionRow | undefined;
    return r && versionInfo(r);
  }

  /** The record a version holds. Undefined when there is no such version. */
  get(versionId: string): { info: VersionInfo; record: Record<string, unknown> } | undefined {
    const r = this.#sql.prepared('SELECT * FROM versions WHERE id = ?').get(versionId) as VersionRow | undefined;
    if (!r) return undefined;
    return { info: versionInfo(r), record: this.recordOf(parseManifest(r.manifest_json, `version ${r.id}`)) };
  }

  /** The newest version of a record, or undefined. */
  newest(entity: string, entityId: string): VersionInfo | undefined {
    const r = this.#sql
      .prepared('SELECT * FROM versions WHERE entity = ? AND entity_id = ? ORDER BY seq DESC LIMIT 1')
      .get(entity, entityId) as VersionRow | undefined;
    return r && versionInfo(r);
  }

  /**
   * The revision of a record's content: the highest revision any of its versions holds. Every write
   * of content records a version; a write of play state alone (setFavorite, markPlayed, the
   * favourites of a preferences patch) records none, so a row whose revision is past this one has
   * changed since only in play state.
   */
  contentRevision(entity: string, entityId: string): number | undefined {
    return (this.#sql.prepared('SELECT max(revision) FROM versions WHERE entity = ? AND entity_id = ?').pluck().get(entity, entityId) as number | null) ?? undefined;
  }

  /** Versions of a record, newest first, after the version `beforeSeq` (exclusive) when given. */
  list(entity: string, entityId: string, limit: number, beforeSeq?: number): VersionInfo[] {
    const rows = this.#sql
      .prepared('SELECT * FROM versions WHERE entity = ? AND entity_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?')
      .all(entity, entityId, beforeSeq ?? Number.MAX_SAFE_INTEGER, limit) as VersionRow[];
    return rows.map(versionInfo);
  }

  /** Renames and/or pins or unpins a version. Answers it, or undefined when there is none. */
  label(versionId: string, label: string | null | undefined, pinned: boolean | undefined): VersionInfo | undefined {
    const r = this.#sql
      .prepared(
        `UPDATE versions SET label = CASE WHEN @setLabel THEN @label ELSE label END,
           pinned = coalesce(@pinned, pinned) WHERE id = @id RETURNING *`,
      )
      .get({ id: versionId, setLabel: label === undefined ? 0 : 1, label: label ?? null, pinned: pinned === undefined ? null : pinned ? 1 : 0 }) as
      | VersionRow
      | undefined;
    if (r && pinned === false) this.thin(r.entity, r.entity_id, this.#sql.now());
    return r && versionInfo(r);
  }

  /** The thinning rule (read from the file once, not at every write: only the setter changes it). */
  get retention(): RetentionPolicy {
    if (this.#retention !== undefined) return this.#retention;
    const text = this.#sql.prepared('SELECT value FROM metadata WHERE key = ?').pluck().get(RETENTION_KEY) as string | undefined;
    let rule: RetentionPolicy;
    try {
      rule = { ...DEFAULT_RETENTION, ...(text === undefined ? {} : (JSON.parse(text) as Partial<RetentionPolicy>)) };
    } catch {
      rule = DEFAULT_RETENTION;
    }
    // Kept once the write that read it commits: read inside a write that changed it and then
    // rolled back (a full disk at the commit), it is not the stored rule.
    this.#remember(() => (this.#retention = rule));
    return rule;
  }

  set retention(policy: RetentionPolicy) {
    this.#sql
      .prepared('INSERT INTO metadata (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(RETENTION_KEY, JSON.stringify(policy));
    // Read again: what an earlier read of this write would keep at the commit is no longer the rule.
    this.#retention = undefined;
    this.#remember(() => (this.#retention = undefined));
  }

  /**
   * Thins the unpinned versions of one record older than keepAllHours: the newest of each hour
   * for hourlyDays days, then the newest of each day. The newest version is never removed.
   * Answers how many were removed.
   */
  thin(entity: string, entityId: string, now: number): number {
    const { keepAllHours, hourlyDays } = this.retention;
    const cutoff = now - keepAllHours * HOUR;
    const rows = this.#sql
      .prepared(
        `SELECT seq, created_at FROM versions WHERE entity = ? AND entity_id = ? AND pinned = 0 AND created_at < ?
           AND seq <> (SELECT max(seq) FROM versions WHERE entity = ? AND entity_id = ?)
           AND id NOT IN (SELECT version_id FROM trash)
         ORDER BY created_at DESC, seq DESC`,
      )
      .all(entity, entityId, cutoff, entity, entityId) as { seq: number; created_at: number }[];
    const hourlyUntil = now - hourlyDays * DAY;
    const seen = new Set<string>();
    const drop: number[] = [];
    for (const r of rows) {
      const bucket = r.created_at >= hourlyUntil ? `h${Math.floor(r.created_at / HOUR)}` : `d${Math.floor(r.created_at / DAY)}`;
      if (seen.has(bucket)) drop.push(r.seq);
      else seen.add(bucket);
    }
    const del = this.#sql.prepared('DELETE FROM versions WHERE seq = ?');
    for (const seq of drop) del.run(seq);
    return drop.length;
  }

  /** Size of the history, for system.stats. */
  stats(): { versions: number; pinned: number; trashed: number; parts: number; storedBytes: number; textBytes: number } {
    const v = this.#sql.prepared('SELECT count(*) AS n, coalesce(sum(pinned), 0) AS p FROM versions').get() as { n: number; p: number };
    const t = this.#sql.prepared('SELECT count(*) FROM trash').pluck().get() as number;
    const p = this.parts.stats();
    return { versions: v.n, pinned: v.p, trashed: t, parts: p.nodes, storedBytes: p.storedBytes, textBytes: p.textBytes };
  }
}
