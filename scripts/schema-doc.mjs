#!/usr/bin/env node
// Writes docs/schema.md, the reference of the database file, from a database migrated by the
// sidecar's own code: a new file in a temporary folder, opened with the store's pragmas
// (src/store/database.ts openDatabase), brought to the newest version by src/store/migrations.ts
// `migrate` (every sql/ file and the TypeScript step of each migration, as the app runs them),
// then its derived columns refreshed (refreshDerived, as the app does after migrating). Everything
// below is read back from that file (sqlite_schema, PRAGMA table_list, table_xinfo, index_list,
// index_xinfo, foreign_key_list); the model field of each column comes from the entity
// descriptors (src/store/entities.ts). Only the purpose of each object is written by hand, in the
// maps below, and an object without one stops the script: a new migration must say what its
// tables are for.
//
// It reads the built code (dist/), so build first:
//   npm run schema-doc                          build, then write docs/schema.md
//   node scripts/schema-doc.mjs                 write docs/schema.md (after npm run build)
//   node scripts/schema-doc.mjs --out FILE      write FILE instead
//   node scripts/schema-doc.mjs --check         write nothing; exit 1 if docs/schema.md differs
// The output depends on nothing but the schema (no dates, no versions of the machine), so the
// same migrations always give the same page; test/unit/schema-doc.test.ts keeps it up to date.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DOC = join(root, 'docs', 'schema.md');

const argv = process.argv.slice(2);
let out = DOC;
let check = false;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--check') check = true;
  else if (argv[i] === '--out' && argv[i + 1]) out = argv[++i];
  else throw new Error(`schema-doc.mjs: unknown option ${argv[i]} (--check, --out FILE)`);
}

const dist = (p) => join(root, 'dist', 'src', p);
if (!existsSync(dist('store/migrations.js'))) {
  console.error('schema-doc: dist/ is missing; run npm run build first (or npm run schema-doc)');
  process.exit(2);
}
const load = (p) => import(pathToFileURL(dist(p)).href);
const database = await load('store/database.js');
const { migrate } = await load('store/migrations.js');
const { refreshDerived, NAME_KEY, SEARCH_FOLD } = await load('store/derived.js');
const { MIGRATIONS } = await load('generated/migrations.js');
const entities = await load('store/entities.js');
const { codecs } = await load('store/entity.js');

// ---------------------------------------------------------------------------------------------
// What each object is for (hand-written; every object of the schema must have an entry)
// ---------------------------------------------------------------------------------------------

/** Tables in the order the page lists them, with what each holds. */
const TABLES = {
  songs:
    'One row per song (the `songs.*` family; wire model `Song`, answered as `StoredSong`). Scalar metadata in columns, ' +
    'structured parts (`sections`, `roles`, `projections`, `mixGraph`, `realizationPolicy`) as JSON text stored as the ' +
    'host sent it. Every write records a version (`versions`); a delete puts the last state in `trash`.',
  performances:
    'One row per performance of a song (`performances.*`; `Performance` / `StoredPerformance`). Its structured fields are ' +
    'JSON text. Deleted with its song (cascade). Versions and trash as for songs.',
  autosaves:
    'Autosave snapshots (`autosave.list`, `autosave.get`, `autosave.restore`): what a promotion of a staged state made, or ' +
    'what recovery at start made of a state a crash left staged (`recovered = 1`). The body is in the part store: ' +
    '`manifest_json` names the root of `song.<part>`, `performance.<part>` and `state`.',
  autosave_staging:
    'The latest staged state per scope (`autosave.stage`): committed before the stage is answered, promoted to `autosaves` ' +
    'after the debounce, on the interval, on `autosave.flush` and at shutdown; what is still here at start was left by a crash ' +
    'and becomes a recovered snapshot.',
  damaged_json:
    'Texts that were not JSON in a JSON column when migration 6 made the file refuse such texts: each kept with its table, ' +
    'the rowid of its row and its column (the column took the neutral value of its kind: `[]`, `{}`, `{"tracks":[]}`, or NULL), ' +
    'so nothing is lost and the row can be read. Written only by that migration.',
  versions:
    'History: one row per committed state of a song or performance (`songs.history`, `songs.getVersion`, …). ' +
    '`seq` orders every version of the file and is never reused. The record itself is in the part store: ' +
    '`manifest_json` maps `fields` (the scalar fields as one JSON object) and each structured part to the hash of its root node ' +
    'in `parts`. No foreign key to the record: history outlives it.',
  parts:
    'The part store (src/store/parts.ts): JSON texts of versions and autosave snapshots, stored once by the SHA-256 of their ' +
    'text and split into nodes (a value of 1 KB or more is a node; a reference is U+0001 and the 64-hex hash). ' +
    '`body` is the node text, raw-deflated when `deflated = 1`. `refs` counts references from other nodes and from ' +
    '`versions`/`autosaves` manifests (kept by the triggers below); the sidecar deletes nodes at 0 before each commit.',
  trash:
    'Deleted songs and performances (`trash.list`, `trash.restore`, `trash.empty`): each names the `delete` version that ' +
    'holds its last state. A performance deleted with its song names it in `with_song_id`. Emptied past ' +
    '`user_preferences.trash_retention_days` at start and at each delete.',
  instruments: 'The instrument registry (`instruments.*`; `Instrument` / `StoredInstrument`).',
  voices: 'Voices of multi-timbral instruments (`voices.*`; `Voice` / `StoredVoice`). Deleted with their instrument.',
  presets:
    'Instrument presets (`presets.*`; `Preset` / `StoredPreset`). Deleted with their instrument; deleting their voice sets ' +
    '`voice_id` to NULL (the sidecar then advances their `revision`).',
  user_preferences:
    'The preferences: exactly one row, `id = \'default\'`, made by the first migration with every DEFAULT below ' +
    '(`preferences.get`, `preferences.update`, `preferences.reset`). `favorite_songs_json` and `favorite_performances_json` ' +
    'are no longer used (kept at `[]`): favourites are the rows\' `is_favorite`.',
  recently_used:
    'Recently used items (`recent.touch`, `recent.list`, `recent.clear`): one row per (`item_type`, `item_id`), id ' +
    '`<itemType>:<itemId>`; at most `--recent-limit` (default 50) per type.',
  metadata: 'Key–value facts about the file (see [Metadata keys](#metadata-keys)).',
  sqlite_sequence:
    'SQLite\'s own: the highest `seq` given out by `versions` (AUTOINCREMENT), so a `seq` is never reused. Never write it.',
};

/** Hand-written notes on columns the model mapping does not explain. */
const COLUMN_NOTES = {
  'songs.auto_save_id': 'from the plan; never read or written by the sidecar (NULL)',
  'autosaves.manifest_json': 'JSON object: `song.<part>`, `performance.<part>`, `state` → root hash in `parts`',
  'autosaves.recovered': '`recovered` (0/1 ⇄ boolean): made at start from a state a crash left staged',
  'autosaves.revision': '`revision` of the snapshot row itself',
  'autosave_staging.scope': 'song id, or song id + `/` + performance id',
  'autosave_staging.body': 'the snapshot JSON, or the whole `autosave.stage` request as received',
  'autosave_staging.body_kind': 'which of the two `body` is',
  'versions.seq': '`seq`: order of recording, file-wide; never reused',
  'versions.id': '`versionId`',
  'versions.revision': '`revision`: the record\'s revision in this state',
  'versions.pinned': '`pinned` (0/1 ⇄ boolean)',
  'versions.device_id': '`deviceId`: metadata `device_id` of the file that recorded it',
  'versions.size_bytes': '`sizeBytes`: length of the record\'s JSON text',
  'versions.manifest_json': 'JSON object: `fields` and each part name → root hash in `parts`',
  'parts.hash': 'SHA-256 of the node text, hex',
  'parts.body': 'node text (UTF-8), raw deflate when `deflated` = 1',
  'parts.size_bytes': 'length of the node text, not deflated',
  'parts.refs': 'references from nodes and manifests',
  'trash.entity_id': '`id`',
  'trash.version_id': '`versionId`: the `delete` version holding the last state',
  'trash.with_song_id': '`withSongId`: deleted by the delete of this song',
  'recently_used.id': '`<itemType>:<itemId>`',
};

/**
 * Tables the entity descriptors do not describe, answered on the wire as this definition of
 * rpc-schema/definitions/: a column whose camelCase name is one of its properties is that field.
 */
const WIRE_DEFINITIONS = { autosaves: 'AutosaveSummary', versions: 'VersionInfo', trash: 'TrashEntry' };

/** Views and virtual tables, with what each is for. */
const VIEWS = {
  songs_search: 'What `songs_fts` indexes: each indexed column of `songs`, or its folded text from `search_fold_json` where folding changes it (sql/0003).',
  instruments_search: 'What `instruments_fts` indexes (as `songs_search`).',
  presets_search: 'What `presets_fts` indexes (as `songs_search`).',
};
const VIRTUAL = {
  songs_fts: 'Full-text index of `songs.search` (BM25; name weighted highest). External content: the `songs_search` view.',
  instruments_fts: 'Full-text index of `instruments.search`. External content: the `instruments_search` view.',
  presets_fts: 'Full-text index of `presets.search`. External content: the `presets_search` view.',
};

/** What a trigger does, from its name. */
function triggerPurpose(name, table) {
  let m = /^(\w+)_fts_(insert|delete|update_old|update_new)$/.exec(name);
  if (m && m[1] === table) {
    const what = {
      insert: 'adds the new row to',
      delete: 'removes the row, with the values it was indexed with, from',
      update_old: 'removes the row\'s old entry from',
      update_new: 'adds the row\'s new entry to',
    }[m[2]];
    return `Keeps \`${table}_fts\` in step with \`${table}\` in the same transaction: ${what} the index (read through \`${table}_search\`).`;
  }
  m = /^(\w+)_json_(insert|update|compact|compact_update)$/.exec(name);
  if (m && m[1] === table) {
    return m[2] === 'insert' || m[2] === 'update'
      ? `Refuses (RAISE ABORT) ${m[2] === 'insert' ? 'a new row' : 'a change'} whose JSON column holds text \`json_valid\` does not accept, whoever writes the file (sql/0006).`
      : `After ${m[2] === 'compact' ? 'an insert' : 'an update'}, rewrites a structured part holding a line break as \`json()\` makes it (compact; strings and numbers as written), so a part answered as stored never breaks an NDJSON line (sql/0006).`;
  }
  m = /^(\w+)_parts_(ref|unref)$/.exec(name);
  if (m && m[1] === table) {
    return m[2] === 'ref'
      ? 'Adds one to `parts.refs` of each distinct hash the new row\'s `manifest_json` names.'
      : 'Takes one from `parts.refs` of each distinct hash the deleted row\'s `manifest_json` named (the sidecar removes nodes at 0 before its commit).';
  }
  return undefined;
}

/** The keys of the metadata table. */
const METADATA_KEYS = {
  schema_version: 'The schema version, a copy of `PRAGMA user_version` (which is what counts) for people reading the file with other tools. Written by `migrate`.',
  text_fold:
    'The folding `name_key` and `search_fold_json` were made with (`FOLD_VERSION` of src/text-fold.ts: the folding\'s own version and the Unicode version of the Node that made them). When it differs from the running binary\'s, the sidecar recomputes both columns of every row at start.',
  device_id: 'A UUID made once per database file: the `deviceId` of every version it records. Backups keep it.',
  autosave_settings: 'JSON of `autosave.configure` (`debounceMs`, `intervalMs` or null, `keep`, `mode`); absent: the defaults.',
  history_retention: 'JSON of `history.configure`\'s thinning rule (`keepAllHours`, `hourlyDays`); absent: the defaults.',
  backup_kind: 'Only in backup files: `manual`, `automatic`, `pre-migration`, `pre-restore` or `pre-import`.',
  backup_created_at: 'Only in backup files: when it was taken (ms since the Unix epoch).',
  backup_label: 'Only in backup files: the `label` of `backup.create`.',
};

// ---------------------------------------------------------------------------------------------
// Reading the schema
// ---------------------------------------------------------------------------------------------

/** The SQL text without comments, strings and quoted names kept as they are. */
function stripComments(sql) {
  let outText = '';
  for (let i = 0; i < sql.length; ) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
      outText += ' ';
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      for (; j < sql.length; j++) {
        if (sql[j] === close) {
          if (close !== ']' && sql[j + 1] === close) j++;
          else break;
        }
      }
      outText += sql.slice(i, j + 1);
      i = j + 1;
    } else {
      outText += c;
      i++;
    }
  }
  return outText;
}

/** Splits `text` at top-level commas (outside parentheses and quotes). */
function splitTopLevel(text) {
  const parts = [];
  let depth = 0;
  let start = 0;
  let quote;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.replace(/\s+/g, ' ').trim()).filter(Boolean);
}

/** The text inside the parentheses that open at `open` (an index of `(`). */
function balanced(text, open) {
  let depth = 0;
  let quote;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error(`unbalanced parentheses in ${text}`);
}

/** Every `CHECK (…)` in a column or table constraint. */
function checksOf(def) {
  const found = [];
  const re = /\bCHECK\s*\(/gi;
  let m;
  while ((m = re.exec(def))) {
    const body = balanced(def, m.index + m[0].length - 1);
    found.push(body.replace(/\s+/g, ' ').trim());
    re.lastIndex = m.index + m[0].length + body.length;
  }
  return found;
}

const unquote = (name) => name.replace(/^["`[]|["`\]]$/g, '');

/** Column CHECKs by column name, and the table constraints, from a CREATE TABLE statement. */
function parseCreateTable(sql) {
  const text = stripComments(sql);
  const body = balanced(text, text.indexOf('('));
  const columns = {};
  const constraints = [];
  for (const def of splitTopLevel(body)) {
    if (/^(CONSTRAINT|CHECK|UNIQUE|PRIMARY\s+KEY|FOREIGN\s+KEY)\b/i.test(def)) constraints.push(def);
    else columns[unquote(def.split(' ')[0])] = checksOf(def);
  }
  const options = text.slice(text.lastIndexOf(')') + 1).replace(/\s+/g, ' ').trim();
  return { columns, constraints, options };
}

const q = (name) => `"${name.replace(/"/g, '""')}"`;
const code = (s) => (s === null || s === undefined || s === '' ? '' : `\`${String(s).replace(/\|/g, '\\|')}\``);
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const anchor = (name) => name.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
const link = (name) => `[\`${name}\`](#${anchor(name)})`;
/** SQL as stored, with indentation normalised to what the migration wrote. */
const sqlBlock = (sql) => '```sql\n' + sql.trim() + '\n```\n';

/** Model field of each column of an entity table, from the descriptors (src/store/entities.ts). */
function modelFields() {
  const byTable = {};
  const descs = [entities.songs, entities.performances, entities.instruments, entities.voices, entities.presets, entities.preferences, entities.recent];
  const kind = (codec) =>
    codec === codecs.json ? 'JSON text' : codec === codecs.boolean ? '0/1 ⇄ boolean' : codec === codecs.pair ? 'pair' : '';
  for (const d of descs) {
    const map = (byTable[d.table] = {});
    map.id = '`id`';
    if (d.timestamps.created) map.created_at = '`createdAt`';
    if (d.timestamps.updated) map.updated_at = '`updatedAt`';
    map.revision = '`revision`';
    for (const f of d.fields) {
      f.columns.forEach((c, i) => {
        const k = kind(f.codec);
        const path = f.codec === codecs.pair ? `${f.path}[${i}]` : f.path;
        map[c] = `\`${path}\`${k && k !== 'pair' ? ` (${k})` : ''}${f.keepWhenAbsent ? ', kept when a write omits it' : ''}`;
      });
    }
    if (d.nameKey) map[NAME_KEY] = 'derived: `nameSortKey(name)` (src/text-fold.ts); not on the wire';
    if (d.search) map[SEARCH_FOLD] = 'derived: folded text of the indexed fields where folding changes them, or NULL; not on the wire';
  }
  for (const [table, def] of Object.entries(WIRE_DEFINITIONS)) {
    const props = JSON.parse(readFileSync(join(root, 'rpc-schema', 'definitions', `${def}.json`), 'utf8')).properties;
    byTable[table] = new Proxy({}, {
      get: (_, column) => {
        const camel = String(column).replace(/_([a-z])/g, (_m, ch) => ch.toUpperCase());
        return camel in props ? `\`${camel}\`` : undefined;
      },
    });
  }
  return byTable;
}

// ---------------------------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------------------------

function render(db) {
  const objects = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name").all();
  const list = db.pragma('table_list').filter((t) => t.schema === 'main');
  const kindOf = Object.fromEntries(list.map((t) => [t.name, t]));
  const tables = list.filter((t) => t.type === 'table' && t.name !== 'sqlite_schema').map((t) => t.name);
  const shadow = list.filter((t) => t.type === 'shadow').map((t) => t.name).sort();
  const virtual = list.filter((t) => t.type === 'virtual').map((t) => t.name).sort();
  const views = objects.filter((o) => o.type === 'view').map((o) => o.name);
  const triggers = objects.filter((o) => o.type === 'trigger');
  const sqlOf = Object.fromEntries(objects.map((o) => [o.name, o.sql]));

  const missing = [
    ...tables.filter((t) => !(t in TABLES)).map((t) => `table ${t} (TABLES)`),
    ...views.filter((v) => !(v in VIEWS)).map((v) => `view ${v} (VIEWS)`),
    ...virtual.filter((v) => !(v in VIRTUAL)).map((v) => `virtual table ${v} (VIRTUAL)`),
    ...triggers.filter((t) => !triggerPurpose(t.name, t.tbl_name)).map((t) => `trigger ${t.name} (triggerPurpose)`),
  ];
  const metaKeys = db.prepare('SELECT key FROM metadata ORDER BY key').pluck().all();
  missing.push(...metaKeys.filter((k) => !(k in METADATA_KEYS)).map((k) => `metadata key ${k} (METADATA_KEYS)`));
  if (missing.length) throw new Error(`schema-doc.mjs: say what these are for, in the maps of the script: ${missing.join(', ')}`);

  const ordered = [...Object.keys(TABLES).filter((t) => tables.includes(t))];
  const dataTables = ordered.filter((t) => !t.startsWith('sqlite_'));
  const fields = modelFields();
  const fks = Object.fromEntries(tables.map((t) => [t, db.pragma(`foreign_key_list(${q(t)})`)]));
  const referencedBy = {};
  for (const [child, list2] of Object.entries(fks)) {
    for (const fk of list2) (referencedBy[fk.table] ??= []).push({ child, ...fk });
  }
  const version = db.pragma('user_version', { simple: true });

  let md = '# Database schema\n\n';
  md +=
    'Generated by `npm run schema-doc` (`scripts/schema-doc.mjs`) from a database file that the sidecar\'s own code ' +
    'created and migrated (`migrate` in `src/store/migrations.ts`: every `sql/` migration and its TypeScript step, ' +
    'as at start); do not edit. `test/unit/schema-doc.test.ts` fails when this page differs from what the script writes. ' +
    'The model field of each column comes from the entity descriptors (`src/store/entities.ts`); the sentences saying ' +
    'what each object is for are kept in the script.\n\n';
  md += `Schema version **${version}** (\`PRAGMA user_version\`), made by ${MIGRATIONS.map((m) => `\`sql/${String(m.version).padStart(4, '0')}_${m.name}.sql\``).join(', ')}.\n\n`;
  md += 'The host guides say how to read this file from other code: [host-integration.md](host-integration.md) (iOS, GRDB).\n\n';

  md += '## Contents\n\n';
  md += `- [The file](#the-file)\n- Tables: ${dataTables.map(link).join(', ')}\n`;
  md += `- [Views](#views): ${views.map(link).join(', ')}\n`;
  md += `- [Virtual tables](#virtual-tables): ${virtual.map(link).join(', ')}\n`;
  md += '- [Triggers](#triggers)\n- [Foreign keys and cascades](#foreign-keys-and-cascades)\n- [Metadata keys](#metadata-keys)\n';
  md += '- [SQLite\'s own tables](#sqlites-own-tables)\n\n';

  // The file
  md += '## The file\n\n';
  md += `- \`PRAGMA user_version\` = ${version}: the newest migration applied. Only the sidecar migrates; it refuses a file with a higher version untouched.\n`;
  md += `- \`page_size\` ${db.pragma('page_size', { simple: true })}, \`encoding\` ${db.pragma('encoding', { simple: true })}, \`auto_vacuum\` ${['NONE', 'FULL', 'INCREMENTAL'][db.pragma('auto_vacuum', { simple: true })]}, \`journal_mode\` ${db.pragma('journal_mode', { simple: true })} (kept in the file; backups are in rollback-journal mode, \`delete\`).\n`;
  md += '- Every table the sidecar writes is `STRICT`: a value of the wrong type is an error, not a conversion.\n';
  md += '- Times are integers, milliseconds since the Unix epoch. Booleans are integers 0 or 1. JSON is stored as TEXT (never JSONB).\n';
  md += '- Settings of each connection the sidecar opens (`src/store/database.ts`; not stored in the file, so every other connection sets its own): ';
  md += [
    '`foreign_keys = ON` (SQLite\'s default is OFF: the cascades below only run with it)',
    '`trusted_schema = OFF`',
    `\`busy_timeout = ${database.BUSY_TIMEOUT_MS}\``,
    '`journal_mode = WAL`',
    '`synchronous = NORMAL` (`--synchronous full`: FULL)',
    `\`journal_size_limit = ${database.JOURNAL_SIZE_LIMIT_BYTES}\``,
    `\`wal_autocheckpoint = ${database.WAL_AUTOCHECKPOINT_PAGES}\``,
    `\`cache_size = -${database.CACHE_SIZE_KIB}\``,
    '`temp_store = MEMORY`',
    `\`mmap_size = ${database.MMAP_SIZE_BYTES}\``,
  ].join(', ');
  md += '.\n\n';

  // Tables
  md += '## Tables\n\n';
  for (const t of ordered) {
    if (t.startsWith('sqlite_')) continue;
    const parsed = parseCreateTable(sqlOf[t]);
    const info = kindOf[t];
    const flags = [info.strict ? 'STRICT' : 'not STRICT', /WITHOUT\s+ROWID/i.test(parsed.options) ? 'WITHOUT ROWID' : 'rowid table'];
    md += `### ${t}\n\n${TABLES[t]}\n\n${flags.join(', ')}.\n\n`;
    const cols = db.pragma(`table_xinfo(${q(t)})`);
    const pk = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    const fkByCol = Object.fromEntries(fks[t].map((fk) => [fk.from, fk]));
    md += '| column | type | NOT NULL | default | CHECK | references | model field / note |\n| --- | --- | --- | --- | --- | --- | --- |\n';
    for (const c of cols) {
      const fk = fkByCol[c.name];
      const ref = fk ? `${fk.table}(${fk.to}) ON DELETE ${fk.on_delete}` : '';
      const note = COLUMN_NOTES[`${t}.${c.name}`] ?? fields[t]?.[c.name] ?? '';
      const name = pk.includes(c.name) ? `**${c.name}** (PK)` : c.name;
      md += `| ${name} | ${c.type || '(any)'} | ${c.notnull || c.pk ? 'yes' : ''} | ${code(c.dflt_value)} | ${(parsed.columns[c.name] ?? []).map(code).join(' and ')} | ${code(ref)} | ${cell(note)} |\n`;
    }
    md += '\n';
    if (pk.length) md += `Primary key: ${pk.map((c) => `\`${c}\``).join(', ')}.`;
    if (parsed.constraints.length) md += ` Table constraints: ${parsed.constraints.map(code).join('; ')}.`;
    md += '\n\n';
    const indexes = db.pragma(`index_list(${q(t)})`).sort((a, b) => (a.name < b.name ? -1 : 1));
    if (indexes.length) {
      md += '| index | unique | columns | WHERE | made by |\n| --- | --- | --- | --- | --- |\n';
      for (const ix of indexes) {
        const keys = db.pragma(`index_xinfo(${q(ix.name)})`).filter((k) => k.key === 1);
        const colsText = keys
          .map((k) => `${k.cid === -2 ? '(expression)' : k.cid === -1 ? 'rowid' : k.name}${k.coll !== 'BINARY' ? ` COLLATE ${k.coll}` : ''}${k.desc ? ' DESC' : ''}`)
          .join(', ');
        const where = ix.partial ? stripComments(sqlOf[ix.name]).replace(/\s+/g, ' ').replace(/^.*\bWHERE\b\s*/i, '') : '';
        const origin = { c: 'CREATE INDEX', u: 'UNIQUE constraint', pk: 'PRIMARY KEY' }[ix.origin];
        md += `| ${ix.origin === 'c' ? `\`${ix.name}\`` : `(${ix.name})`} | ${ix.unique ? 'yes' : ''} | ${code(colsText)} | ${code(where)} | ${origin} |\n`;
      }
      md += '\n';
    }
    const on = triggers.filter((tr) => tr.tbl_name === t).map((tr) => link(tr.name));
    if (on.length) md += `Triggers: ${on.join(', ')}.\n\n`;
    const refs = (referencedBy[t] ?? []).map((r) => `\`${r.child}.${r.from}\` (ON DELETE ${r.on_delete})`);
    if (refs.length) md += `Referenced by: ${refs.join(', ')}.\n\n`;
  }

  // Views
  md += '## Views\n\n';
  for (const v of views) {
    const cols = db.pragma(`table_xinfo(${q(v)})`).map((c) => `\`${c.name}\``);
    md += `### ${v}\n\n${VIEWS[v]} Columns: ${cols.join(', ')}.\n\n${sqlBlock(sqlOf[v])}\n`;
  }

  // Virtual tables
  md += '## Virtual tables\n\n';
  md +=
    'FTS5 tables with external content: the index holds no copy of the text, only the tokens; the triggers keep it in ' +
    'step with its table in the same transaction. SQLite keeps each one\'s data in shadow tables ' +
    '(listed under [SQLite\'s own tables](#sqlites-own-tables)). Never write them or their shadow tables directly.\n\n';
  for (const v of virtual) {
    const cols = db.pragma(`table_xinfo(${q(v)})`);
    const visible = cols.filter((c) => c.hidden === 0).map((c) => `\`${c.name}\``);
    const hidden = cols.filter((c) => c.hidden !== 0).map((c) => `\`${c.name}\``);
    md += `### ${v}\n\n${VIRTUAL[v]} Columns: ${visible.join(', ')} (hidden: ${hidden.join(', ')}).\n\n${sqlBlock(sqlOf[v])}\n`;
  }

  // Triggers
  md += '## Triggers\n\n';
  for (const tr of triggers) {
    const head = /CREATE\s+TRIGGER\s+\S+\s+(BEFORE|AFTER|INSTEAD\s+OF)\s+(INSERT|DELETE|UPDATE(?:\s+OF\s+[\w\s,]+?)?)\s+ON\s/i.exec(stripComments(tr.sql));
    const when = head ? `${head[1].toUpperCase()} ${head[2].replace(/\s+/g, ' ')}` : '';
    md += `### ${tr.name}\n\n\`${when}\` on \`${tr.tbl_name}\`. ${triggerPurpose(tr.name, tr.tbl_name)}\n\n${sqlBlock(tr.sql)}\n`;
  }

  // Foreign keys
  md += '## Foreign keys and cascades\n\n';
  md +=
    'Enforced only on connections with `PRAGMA foreign_keys = ON` (the sidecar sets it on every connection; SQLite\'s ' +
    'default is OFF). A migration is committed only when `PRAGMA foreign_key_check` finds nothing.\n\n';
  md += '| table | column | references | ON DELETE | ON UPDATE |\n| --- | --- | --- | --- | --- |\n';
  for (const t of ordered) {
    for (const fk of fks[t] ?? []) md += `| \`${t}\` | \`${fk.from}\` | \`${fk.table}(${fk.to})\` | ${fk.on_delete} | ${fk.on_update} |\n`;
  }
  md += '\nWhat deleting a row reaches (CASCADE followed to the end):\n\n';
  const reach = (table, depth) => {
    let text = '';
    for (const r of referencedBy[table] ?? []) {
      const rule = r.on_delete;
      const what =
        rule === 'CASCADE'
          ? `deletes the \`${r.child}\` rows whose \`${r.from}\` names it`
          : rule === 'SET NULL'
            ? `sets \`${r.from}\` to NULL in the \`${r.child}\` rows that name it`
            : `is refused while a \`${r.child}\` row names it in \`${r.from}\` (${rule})`;
      text += `${'  '.repeat(depth)}- ${what}\n`;
      if (rule === 'CASCADE') text += reach(r.child, depth + 1);
    }
    return text;
  };
  for (const t of ordered) {
    if (referencedBy[t]) md += `- Deleting from \`${t}\`:\n${reach(t, 1)}`;
  }
  md +=
    '\nThe sidecar does more around a delete than the schema does (src/store/repository.ts, src/store/history.ts): ' +
    'a song or performance is recorded as a `delete` version and put in `trash` (with the performances its delete ' +
    'cascades to), its recently used entries go, and presets whose voice was deleted get `revision + 1`. A delete made by ' +
    'another program does none of that.\n\n';

  // Metadata keys
  md += '## Metadata keys\n\n| key | what |\n| --- | --- |\n';
  for (const [k, what] of Object.entries(METADATA_KEYS)) md += `| \`${k}\` | ${cell(what)} |\n`;
  md += `\nA new file holds ${metaKeys.map((k) => `\`${k}\``).join(' and ')}; the others appear when first needed.\n\n`;

  // SQLite's own
  md += '## SQLite\'s own tables\n\n';
  md += `- \`sqlite_sequence\`: ${TABLES.sqlite_sequence}\n`;
  md += `- FTS5 shadow tables (data of the virtual tables above): ${shadow.map((s) => `\`${s}\``).join(', ')}.\n`;
  return md;
}

// ---------------------------------------------------------------------------------------------
// A freshly migrated database
// ---------------------------------------------------------------------------------------------

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'wr-schema-doc-'));
  let db;
  try {
    const path = join(work, 'data.db');
    db = database.openDatabase(path);
    await migrate(db, path, { backupDir: work });
    refreshDerived(db);
    const page = render(db);
    db.close();
    db = undefined;
    if (check) {
      let current;
      try {
        current = readFileSync(DOC, 'utf8');
      } catch {
        current = undefined;
      }
      if (current !== page) {
        console.error('schema-doc --check: docs/schema.md is out of date with the migrations (run npm run schema-doc)');
        process.exitCode = 1;
      } else {
        console.error('schema-doc --check: docs/schema.md is up to date');
      }
    } else {
      writeFileSync(out, page);
      console.error(`schema-doc: wrote ${relative(process.cwd(), out) || out}`);
    }
  } finally {
    db?.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
