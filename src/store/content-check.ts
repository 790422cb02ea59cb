/**
 * What the sidecar will read from a database file, checked before the file is served (backup.verify,
 * backup.restore, import.full, recovery at start: every caller of inspectDatabase).
 *
 * integrity_check proves the pages are sound and the schema check proves the tables are ours, but
 * neither looks inside a value: a JSON column that is not JSON, or a staged autosave of another
 * shape, is a sound SQLite row that every later read of it would fail on (an internal error, or a
 * sidecar that never starts again because recovery at start reads the staged rows). So every row is
 * read here the way the store reads it:
 *
 *   1. every JSON column of every table (the descriptors' json codec columns, the autosave
 *      tables' bodies, any other `*_json` column) parses and is at most MAX_JSON_DEPTH deep
 *      (SQLite's json_valid, in C, one pass per table: it refuses the same depth, which is
 *      checked once per process; only a bad row comes back to JavaScript to say why). The other
 *      codecs cannot fail on what a STRICT table holds.
 *   2. every autosave snapshot and every staged state (what recovery at start promotes) has the
 *      shape the autosave code dereferences, and the autosave settings are what
 *      autosave.configure accepts. From schema 5 a snapshot is in the part store: its parts are
 *      checked first (3.), then its song and performance as autosave.restore would write them.
 *
 * Records are not held to the result schemas: a file an older version wrote may hold looser
 * rows that the sidecar reads without trouble, and refusing it would lose them.
 *
 * The answer is the first problem found, naming the table, the row and the column; undefined when
 * every row can be read. Read-only: the connection may be untrusted (nothing of the file runs).
 */
import * as validators from '../generated/validators.js';
import { MAX_JSON_DEPTH, tooDeepPointer } from '../json-limits.js';
import { ENTITIES, performances, preferences, recent, songs } from './entities.js';
import { codecs, getPath, type EntityDescriptor, type Row } from './entity.js';
import type { Connection } from './sqlite.js';
import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { hasLooseSpace, PartStore, referencesOf } from './parts.js';

interface Validate {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string }[] | null;
}

/** The entities whose JSON columns the repositories read through the json codec (entities.ts). */
const DESCRIPTORS: readonly EntityDescriptor[] = [...Object.values(ENTITIES), preferences, recent];

/** Columns holding JSON that no descriptor maps (the autosave tables are not repositories). */
const OTHER_JSON_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  autosaves: ['snapshot_json'],
  autosave_staging: ['body'],
};

/** The metadata row autosave.configure keeps (src/store/autosaves.ts). */
const SETTINGS_KEY = 'autosave_settings';

const validateSettings = validators.autosave_configure__params as Validate;
const validateStage = validators.autosave_stage__params as Validate;

/** Tables whose rows are data (FTS5 shadow tables and SQLite's own excepted). */
const isDataTable = (name: string): boolean => !name.startsWith('sqlite_') && !/_fts(_|$)/.test(name);

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** `table songs, row "A1", column sections_json` */
const where = (table: string, id: unknown, column: string): string => `table ${table}, row ${JSON.stringify(id)}, column ${column}`;

/** The first schema error, as `/pointer message`. */
const firstError = (v: Validate): string => {
  const e = v.errors?.[0];
  return e ? `${e.instancePath || '/'} ${e.message ?? 'is not valid'}` : 'is not valid';
};

/**
 * The first row the sidecar could not read, said as "table T, row ID, column C: why", or
 * undefined when every row can be read. Throws only what SQLite throws (a damaged page).
 */
export function unreadableContent(db: Connection): string | undefined {
  const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[]).filter(isDataTable);
  return badJson(db, tables) ?? badParts(db, tables) ?? badAutosaves(db, tables);
}

// ---------------------------------------------------------------------------------------------
// 1. JSON columns
// ---------------------------------------------------------------------------------------------

/** Whether SQLite's json_valid refuses exactly what MAX_JSON_DEPTH refuses (it does: both 1000). */
let sqliteDepthMatches: boolean | undefined;

function depthMatches(db: Connection): boolean {
  if (sqliteDepthMatches === undefined) {
    const nested = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
    const r = db.prepare('SELECT json_valid(?) AS at, json_valid(?) AS over').get(nested(MAX_JSON_DEPTH), nested(MAX_JSON_DEPTH + 1)) as {
      at: number;
      over: number;
    };
    sqliteDepthMatches = r.at === 1 && r.over === 0;
  }
  return sqliteDepthMatches;
}

/** Why one column value is not JSON the sidecar accepts, or undefined. */
function jsonProblem(value: unknown): string | undefined {
  if (value === null) return undefined;
  if (typeof value !== 'string') return `holds a ${value instanceof Uint8Array ? 'blob' : typeof value}, not JSON text`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    return `is not JSON (${(err as Error).message})`;
  }
  const deep = tooDeepPointer(parsed);
  return deep === undefined ? undefined : `is nested deeper than ${MAX_JSON_DEPTH} levels (at ${deep || '/'})`;
}

/** The JSON columns of `table` that exist in this file, and the column that names its rows. */
function jsonColumnsOf(db: Connection, table: string): { key: string; columns: string[] } {
  const info = db.pragma(`table_info(${quote(table)})`) as { name: string; pk: number }[];
  const mapped = new Set<string>(OTHER_JSON_COLUMNS[table] ?? []);
  for (const desc of DESCRIPTORS) {
    if (desc.table !== table) continue;
    for (const f of desc.fields) if (f.codec === codecs.json) f.columns.forEach((c) => mapped.add(c));
  }
  const columns = info.map((c) => c.name).filter((c) => mapped.has(c) || c.endsWith('_json'));
  const key = info.find((c) => c.pk === 1)?.name ?? 'rowid';
  return { key, columns };
}

function badJson(db: Connection, tables: readonly string[]): string | undefined {
  const inC = depthMatches(db);
  for (const table of tables) {
    const { key, columns } = jsonColumnsOf(db, table);
    if (!columns.length) continue;
    const select = `SELECT ${quote(key)} AS "key", ${columns.map(quote).join(', ')} FROM ${quote(table)}`;
    // In C, in one pass over the table: only a bad row comes back to JavaScript, to say why.
    const bad = columns.map((c) => `(${quote(c)} IS NOT NULL AND (typeof(${quote(c)}) <> 'text' OR NOT json_valid(${quote(c)})))`);
    const rows = inC ? db.prepare(`${select} WHERE ${bad.join(' OR ')} LIMIT 1`).all() : db.prepare(select).iterate();
    for (const row of rows as Iterable<Row>) {
      for (const c of columns) {
        const why = jsonProblem(row[c]);
        if (why) return `${where(table, row.key, c)} ${why}`;
      }
      if (inC) return `${where(table, row.key, columns.join('/'))} is not JSON`; // SQLite and V8 disagree
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// 2. Autosave snapshots, staged states and settings
// ---------------------------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Why a snapshot of `songId` (and `performanceId`) is not one the autosave code can read and
 * autosave.restore can write, or undefined: an object whose `song` is an object (and
 * `performance`, when there, too), naming the row's song and performance, every field of which
 * binds. Deliberately not the full Song schema: a snapshot of rows as they were (a pre-restore
 * snapshot of a file an older version wrote) is kept however loose it is.
 */
function snapshotProblem(snapshot: unknown, songId: unknown, performanceId: unknown): string | undefined {
  if (!isObject(snapshot)) return 'is not an object';
  const { song, performance } = snapshot;
  if (!isObject(song)) return '/song is not an object';
  if (song.id !== undefined && song.id !== songId) return `/song/id is ${JSON.stringify(song.id)}, not the row's song ${JSON.stringify(songId)}`;
  if (performance === undefined || performance === null) return unbindable(song, songs, '/song');
  if (!isObject(performance)) return '/performance is not an object';
  if (performanceId === null) return '/performance is there, but the row names no performance';
  if (performance.id !== undefined && performance.id !== performanceId) {
    return `/performance/id is ${JSON.stringify(performance.id)}, not the row's performance ${JSON.stringify(performanceId)}`;
  }
  return unbindable(song, songs, '/song') ?? unbindable(performance, performances, '/performance');
}

/**
 * Why a staged state is not one autosave.stage accepts, or undefined. Unlike a snapshot, a staged
 * state is always one that autosave.stage validated (the table is newer than any loose file), and
 * a promotion writes its song and performance rows: it is held to the whole schema.
 */
function stagedProblem(snapshot: unknown, songId: unknown, performanceId: unknown): string | undefined {
  const shape = snapshotProblem(snapshot, songId, performanceId);
  if (shape) return shape;
  const params = { songId, ...(performanceId === null ? {} : { performanceId }), snapshot };
  return validateStage(params) ? undefined : firstError(validateStage);
}

/**
 * Why `model` (a snapshot's song or performance, at `at`) could not be written by the repository
 * of `desc` (autosave.restore writes it with Repository.save, whose codecs bind each field): a
 * field SQLite cannot bind (an object where a text or a number goes, a time signature that is not
 * a pair). undefined when every field binds; a wrong but bindable value is refused by SQLite's own
 * checks then (-32602), not here.
 */
function unbindable(model: Record<string, unknown>, desc: EntityDescriptor, at: string): string | undefined {
  const fields = [...desc.fields, ...(desc.timestamps.created ? [{ path: 'createdAt', codec: codecs.integer }] : [])];
  for (const f of fields) {
    const v = getPath(model, f.path);
    if (v === undefined || f.codec === codecs.boolean || f.codec === codecs.json) continue;
    const pointer = `${at}/${f.path.replace(/\./g, '/')}`;
    if (f.codec === codecs.pair) {
      if (!Array.isArray(v) || !isScalar(v[0]) || !isScalar(v[1])) return `${pointer} is not a pair of numbers`;
    } else if (!isScalar(v)) {
      return `${pointer} is ${Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`}, not a value a column holds`;
    }
  }
  return undefined;
}

const isScalar = (v: unknown): boolean => v === null || typeof v === 'string' || typeof v === 'number';

/** unbindable in SQL: true when a field under `prefix` (`$.song`) of snapshot_json would not bind. */
function unbindableSql(desc: EntityDescriptor, prefix: string): string {
  const scalar = "('null', 'text', 'integer', 'real')";
  const type = (path: string): string => `json_type(snapshot_json, '${prefix}.${path}')`;
  const fields = [...desc.fields, ...(desc.timestamps.created ? [{ path: 'createdAt', codec: codecs.integer }] : [])];
  return fields
    .filter((f) => f.codec !== codecs.boolean && f.codec !== codecs.json)
    .map((f) =>
      f.codec === codecs.pair
        ? `(${type(f.path)} IS NOT NULL AND (${type(f.path)} <> 'array' OR coalesce(${type(`${f.path}[0]`)}, '') NOT IN ${scalar} OR coalesce(${type(`${f.path}[1]`)}, '') NOT IN ${scalar}))`
        : `coalesce(${type(f.path)}, 'null') NOT IN ${scalar}`,
    )
    .join('\n  OR ');
}

/** snapshotProblem and unbindable in SQL, for `autosaves` rows (whose snapshot_json is already known to be JSON). */
const BAD_SNAPSHOT_SQL = `(
  json_type(snapshot_json) IS NOT 'object'
  OR json_type(snapshot_json, '$.song') IS NOT 'object'
  OR (json_type(snapshot_json, '$.song.id') IS NOT NULL AND json_extract(snapshot_json, '$.song.id') IS NOT song_id)
  OR (coalesce(json_type(snapshot_json, '$.performance'), 'null') <> 'null' AND (
    json_type(snapshot_json, '$.performance') <> 'object'
    OR performance_id IS NULL
    OR (json_type(snapshot_json, '$.performance.id') IS NOT NULL AND json_extract(snapshot_json, '$.performance.id') IS NOT performance_id)))
  OR ${unbindableSql(songs, '$.song')}
  OR ${unbindableSql(performances, '$.performance')})`;

// ---------------------------------------------------------------------------------------------
// 3. The part store (schema 5): nodes, and the manifests of versions and autosaves
// ---------------------------------------------------------------------------------------------

/**
 * Why the part store is not one the sidecar can read, or undefined: every node inflates, is keyed
 * by the SHA-256 of its text, is compact (no white space outside its strings), and every node its
 * text refers to exists
 * (so no cycle can be made without breaking SHA-256); every manifest maps names to nodes that
 * exist. A node's text is not parsed here: a part whose expansion is not JSON is answered
 * StorageCorrupt when it is read (History.recordOf), and reference counts are counted again by a
 * restore (recountParts).
 */
function badParts(db: Connection, tables: readonly string[]): string | undefined {
  if (!tables.includes('parts')) return undefined;
  const exists = db.prepare('SELECT 1 FROM parts WHERE hash = ?');
  for (const r of db.prepare('SELECT hash, body, deflated FROM parts').iterate() as Iterable<Row>) {
    const why = nodeProblem(r, (h) => exists.get(h) !== undefined);
    if (why) return `${where('parts', r.hash, 'body')} ${why}`;
  }
  for (const holder of ['versions', 'autosaves']) {
    if (!tables.includes(holder)) continue;
    const bad = db
      .prepare(
        `SELECT h.id AS id FROM "${holder}" AS h WHERE json_type(h.manifest_json) IS NOT 'object'
           OR EXISTS (SELECT 1 FROM json_each(h.manifest_json) AS m WHERE m.type <> 'text' OR m.value NOT IN (SELECT hash FROM parts)) LIMIT 1`,
      )
      .get() as Row | undefined;
    if (bad) return `${where(holder, bad.id, 'manifest_json')} names a part that is not in the part store`;
  }
  return undefined;
}

/** Why one node cannot be read, or undefined. */
function nodeProblem(r: Row, exists: (hash: string) => boolean): string | undefined {
  let text: string;
  try {
    const body = r.body as Uint8Array;
    text = (r.deflated === 1 ? inflateRawSync(body) : Buffer.from(body)).toString('utf8');
  } catch (err) {
    return `does not inflate (${(err as Error).message})`;
  }
  if (createHash('sha256').update(text).digest('hex') !== r.hash) return 'is not the text its hash names';
  // Answers hold part texts as stored: white space between tokens (a line break) is not a text the
  // store writes, and would split an NDJSON answer.
  if (hasLooseSpace(text)) return 'is not compact JSON (white space outside its strings)';
  const refs = referencesOf(text);
  const missing = refs.find((h) => !exists(h));
  if (missing) return `refers to part ${missing}, which is not in the part store`;
  return undefined;
}

/**
 * snapshotProblem for snapshots in the part store (schema 5; badParts has found every part sound):
 * what it checks (the song and performance are objects, name the row's song and performance, and
 * their scalar fields bind) is all in the `song.fields` and `performance.fields` parts (and in
 * `other` and `snapshot`, a snapshot migrated from an older version: legacySnapshotParts in
 * autosaves.ts), so only those are read, not the structured parts (sections, mixGraph, …), which
 * the json codec binds whatever they hold.
 */
function badManifestSnapshot(db: Connection): string | undefined {
  const parts = new PartStore({ prepared: (sql: string) => db.prepare(sql) });
  const rows = db.prepare('SELECT id, song_id, performance_id, manifest_json FROM autosaves').iterate() as Iterable<Row>;
  for (const r of rows) {
    const manifest = JSON.parse(r.manifest_json as string) as Record<string, string>;
    const at = (column: string): string => where('autosaves', r.id, column);
    const read = (name: string): { value?: unknown; why?: string } => {
      const text = parts.text(manifest[name]!);
      try {
        return { value: JSON.parse(text) };
      } catch (err) {
        return { why: `${at('manifest_json')}: the part "${name}" is not JSON (${(err as Error).message})` };
      }
    };
    let snapshot: Record<string, unknown> | unknown;
    if (manifest.unreadable !== undefined) return `${at('manifest_json')}: the snapshot was not JSON when it was migrated`;
    if (manifest.snapshot !== undefined) {
      const whole = read('snapshot');
      if (whole.why) return whole.why;
      snapshot = whole.value;
    } else {
      let other: unknown = {};
      if (manifest.other !== undefined) {
        const o = read('other');
        if (o.why) return o.why;
        if (!isObject(o.value)) return `${at('manifest_json')}: the part "other" is not an object`;
        other = o.value;
      }
      const built: Record<string, unknown> = { ...(other as Record<string, unknown>) };
      for (const which of ['song', 'performance']) {
        if (!Object.keys(manifest).some((k) => k.startsWith(`${which}.`))) continue;
        let fields: unknown = {};
        if (manifest[`${which}.fields`] !== undefined) {
          const f = read(`${which}.fields`);
          if (f.why) return f.why;
          fields = f.value;
        }
        built[which] = fields;
      }
      snapshot = built;
    }
    const why = snapshotProblem(snapshot, r.song_id, r.performance_id);
    if (why) return `${at('manifest_json')}: the snapshot ${why}`;
  }
  return undefined;
}

function badAutosaves(db: Connection, tables: readonly string[]): string | undefined {
  const legacy = tables.includes('autosaves') && (db.pragma('table_info(autosaves)') as { name: string }[]).some((c) => c.name === 'snapshot_json');
  if (legacy) {
    // Snapshots are most of a file: the shape is checked in C (JSON.parse of them all would cost
    // about 4x as much), and only a bad row is parsed here, to say why.
    const r = db.prepare(`SELECT id, song_id, performance_id, snapshot_json FROM autosaves WHERE ${BAD_SNAPSHOT_SQL} LIMIT 1`).get() as Row | undefined;
    if (r) {
      const why = snapshotProblem(JSON.parse(r.snapshot_json as string), r.song_id, r.performance_id) ?? 'is not a snapshot';
      return `${where('autosaves', r.id, 'snapshot_json')}: the snapshot ${why}`;
    }
  }
  if (tables.includes('autosaves') && !legacy) {
    const why = badManifestSnapshot(db);
    if (why) return why;
  }
  if (tables.includes('autosave_staging')) {
    const rows = db.prepare('SELECT scope, song_id, performance_id, body, body_kind FROM autosave_staging').iterate() as Iterable<Row>;
    for (const r of rows) {
      const body = JSON.parse(r.body as string) as unknown;
      let why: string | undefined;
      if (r.body_kind === 'request') {
        // The autosave.stage request as it arrived: recovery at start reads params.snapshot.
        const params = (body as { params?: { songId?: unknown; performanceId?: unknown; snapshot?: unknown } } | null)?.params;
        if (typeof params !== 'object' || params === null) why = 'is a staged request without params';
        else if (params.songId !== r.song_id || (params.performanceId ?? null) !== r.performance_id) why = 'is a staged request for another song or performance';
        else why = stagedProblem(params.snapshot, r.song_id, r.performance_id);
      } else {
        why = stagedProblem(body, r.song_id, r.performance_id);
      }
      if (why) return `${where('autosave_staging', r.scope, 'body')}: the staged state ${why}`;
    }
  }
  if (tables.includes('metadata')) {
    const text = db.prepare('SELECT value FROM metadata WHERE key = ?').pluck().get(SETTINGS_KEY) as string | undefined;
    if (text !== undefined) {
      const why = jsonProblem(text) ?? (validateSettings(JSON.parse(text)) ? undefined : firstError(validateSettings));
      if (why) return `${where('metadata', SETTINGS_KEY, 'value')}: the autosave settings ${why}`;
    }
  }
  return undefined;
}
