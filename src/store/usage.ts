/**
 * Which songs and performances name an instrument, voice or preset: the references inside their
 * structured parts, which are the host's data (docs/protocol.md, "References inside songs are the
 * host's"): the store neither checks nor rewrites them, and answers who names an id so a host can
 * warn before it deletes one.
 *
 * Read in SQL over the stored JSON (json_each / json_extract), row by row, never by parsing whole
 * songs in JavaScript:
 * - a song names an id in a track of its mix graph: `mixGraph.tracks[].<field>`;
 * - a performance names it in an entry of its instrumentation map, the plan's
 *   `{roleId: {instrumentId, presetId, parameters}}`: `instrumentationMap.<role>.<field>`.
 * Elements that are not objects (a host's own shapes) name nothing.
 *
 * Cost: one pass over every song and performance row (no index can hold references inside JSON
 * text): about 0.13-0.18 s for 10,000 songs of 16 tracks and 20 KB each (npm run bench:usage).
 */
import type { Usage } from '../generated/types.js';
import { BY_NAME_SQL, type Row } from './entity.js';
import { DEFAULT_PAGE_SIZE } from './repository.js';
import type { Store } from './store.js';

/** The field of a track (or instrumentation entry) that holds the reference. */
export type ReferenceField = 'instrumentId' | 'voiceId' | 'presetId';

/** Where references sit: the table, its JSON column, the JSON path of the array or object of entries. */
const HOLDERS = {
  songs: { table: 'songs', column: 'mix_graph_json', path: '$.tracks', select: '"id", "name"' },
  performances: { table: 'performances', column: 'instrumentation_map_json', path: '$', select: '"id", "name", "song_id" AS "songId"' },
} as const;

export class References {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * The songs and performances whose entries have `field` equal to `id`, by name then id, at most
   * `limit` of each (default 50), with the counts of all. Any id: one that names no record answers
   * who still names it (empty when nobody does).
   */
  usage(field: ReferenceField, id: string, limit = DEFAULT_PAGE_SIZE): Usage {
    const songs = this.#holders('songs', field, id, limit);
    const performances = this.#holders('performances', field, id, limit);
    return {
      songs: songs.rows as Usage['songs'],
      songCount: songs.total,
      performances: performances.rows as Usage['performances'],
      performanceCount: performances.total,
    };
  }

  #holders(holder: keyof typeof HOLDERS, field: ReferenceField, id: string, limit: number): { rows: Row[]; total: number } {
    const h = HOLDERS[holder];
    // The instr() test skips the JSON parse of rows that cannot name the id, and never a row that
    // does: JSON text without a backslash holds every string as it is, so a string equal to the id
    // appears in it verbatim; text with a backslash anywhere (an escape) is always parsed.
    // CASE, not AND: json_extract of an element that is not an object (a string is no JSON text)
    // would fail, and SQLite does not promise to evaluate AND left to right.
    const rows = this.#store
      .prepared(
        `SELECT ${h.select}, count(*) OVER () AS "total" FROM "${h.table}" AS h
         WHERE (instr(h."${h.column}", '\\') > 0 OR instr(h."${h.column}", @id) > 0)
           AND EXISTS (SELECT 1 FROM json_each(h."${h.column}", '${h.path}') AS e
                       WHERE CASE WHEN e.type = 'object' THEN json_extract(e.value, '$."${field}"') END = @id)
         ORDER BY ${BY_NAME_SQL} LIMIT @limit`,
      )
      .all({ id, limit }) as Row[];
    const total = (rows[0]?.total as number | undefined) ?? 0;
    for (const r of rows) delete r.total;
    return { rows, total };
  }
}
