/**
 * The user's preferences: one row (id 'default') whose every column has the plan's default in the
 * schema. Read whole, changed by merging a patch, reset by putting the row back to its defaults.
 *
 * Favourites are not kept here. A song's or performance's `isFavorite` is the one truth;
 * `favoriteSongs` and `favoritePerformances` are answered from those rows, and a patch that
 * carries them sets the flags of those records (a write of each record whose flag changes, as
 * setFavorite is). `favoriteInstruments` has no row column: it stays a list here, and only the
 * ids of instruments that exist are answered.
 */
import { conflict, constraintViolation } from '../errors.js';
import type { StoredPreferences } from '../generated/types.js';
import { BY_NAME_SQL, fromRow, type Row } from './entity.js';
import { preferences as desc } from './entities.js';
import { Repository } from './repository.js';
import type { Store } from './store.js';

const ID = 'default';
/** Fields a patch may carry that the store sets itself. */
const SERVER_FIELDS = new Set(['id', 'updatedAt', 'revision']);
/** The most ids a favourites list holds (the schema's maxItems of favoriteSongs …). */
export const MAX_FAVORITES = 100_000;

/** The favourites lists: the preference field, the table whose ids it lists, and how it is kept. */
const FAVORITES = [
  { field: 'favoriteSongs', table: 'songs', entity: 'songs', flag: true },
  { field: 'favoritePerformances', table: 'performances', entity: 'performances', flag: true },
  { field: 'favoriteInstruments', table: 'instruments', entity: 'instruments', flag: false },
] as const;
type Favorites = (typeof FAVORITES)[number];

export class Preferences {
  readonly #store: Store;
  readonly #repo: Repository<StoredPreferences>;

  constructor(store: Store) {
    this.#store = store;
    this.#repo = new Repository<StoredPreferences>(store, desc);
  }

  /** The complete record. (Recreates it with its defaults if something removed the row.) */
  get(): StoredPreferences {
    if (this.#repo.revisionOf(ID) === undefined) {
      // Read-only (inspect), the row cannot be put back: the record it would be is answered.
      if (this.#store.readOnly) return this.#withFavorites(this.#defaults());
      this.#store.write(() => this.#insertDefaults(1));
    }
    return this.#withFavorites(this.#repo.get(ID));
  }

  /** The record #insertDefaults would write (every column a literal DEFAULT of the schema). */
  #defaults(): StoredPreferences {
    const row = { ...this.#store.columnDefaults('user_preferences'), id: ID, updated_at: this.#store.now(), revision: 1 };
    return fromRow(desc, row) as unknown as StoredPreferences;
  }

  /**
   * Merges `patch` into the stored record: absent fields keep their values, `null` clears a field
   * without a default. `favoriteSongs` / `favoritePerformances` set `isFavorite` on exactly those
   * records and clear it on the others. Throws Conflict when `ifRevision` is not the stored
   * revision, ConstraintViolation (at `/patch/<field>/<n>`) when a favourites list names an id
   * that is no record; nothing is written then.
   */
  update(patch: Record<string, unknown>, ifRevision?: number): StoredPreferences {
    return this.#store.write(() => {
      const merged: Record<string, unknown> = { ...this.get() };
      for (const [key, value] of Object.entries(patch)) {
        if (SERVER_FIELDS.has(key)) continue;
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      for (const f of FAVORITES) {
        const ids = patch[f.field];
        if (ids === undefined || ids === null) continue;
        this.#checkExist(f, ids as string[]);
        if (f.flag) this.#setFlags(f, ids as string[]);
        else merged[f.field] = [...new Set(ids as string[])];
      }
      // The flags are the truth: the row's own lists stay at their default.
      for (const f of FAVORITES) if (f.flag) delete merged[f.field];
      return this.#withFavorites(this.#repo.update({ ...merged, id: ID }, ifRevision));
    });
  }

  /**
   * Every field back to its default; the revision still grows. Favourite songs and performances
   * stay: they are the records' own state, not preferences. Throws Conflict on ifRevision.
   */
  reset(ifRevision?: number): StoredPreferences {
    return this.#store.write(() => {
      const revision = this.get().revision;
      if (ifRevision !== undefined && ifRevision !== revision) throw conflict('preferences', ID, ifRevision, revision);
      this.#store.prepared('DELETE FROM "user_preferences" WHERE "id" = ?').run(ID);
      this.#insertDefaults(revision + 1);
      this.#store.recordChange('preferences', 'update', [ID]);
      return this.#withFavorites(this.#repo.get(ID));
    });
  }

  /** The row with only id, time and revision given: every other column takes its schema DEFAULT. */
  #insertDefaults(revision: number): void {
    this.#store
      .prepared('INSERT INTO "user_preferences" ("id", "updated_at", "revision") VALUES (?, ?, ?)')
      .run(ID, this.#store.now(), revision);
  }

  /**
   * The record with its favourites lists as they are: the favourite songs and performances by
   * name then id, and the stored favourite instruments that exist, in their order.
   */
  #withFavorites(row: StoredPreferences): StoredPreferences {
    const out: Record<string, unknown> = { ...row };
    for (const f of FAVORITES) {
      const sql = f.flag
        ? `SELECT "id" FROM "${f.table}" WHERE "is_favorite" = 1 ORDER BY ${BY_NAME_SQL} LIMIT ${MAX_FAVORITES}`
        : `SELECT j.value FROM json_each(?) AS j WHERE EXISTS (SELECT 1 FROM "${f.table}" AS t WHERE t."id" = j.value) ORDER BY j.key`;
      const stmt = this.#store.prepared(sql).pluck();
      out[f.field] = f.flag ? stmt.all() : stmt.all(JSON.stringify(row[f.field as keyof StoredPreferences] ?? []));
    }
    return out as unknown as StoredPreferences;
  }

  /** Refuses a favourites list naming an id that is no record (the first such id, with its pointer). */
  #checkExist(f: Favorites, ids: string[]): void {
    const missing = this.#store
      .prepared(
        `SELECT j.key AS "at", j.value AS "id" FROM json_each(?) AS j
         WHERE NOT EXISTS (SELECT 1 FROM "${f.table}" AS t WHERE t."id" = j.value) ORDER BY j.key LIMIT 1`,
      )
      .get(JSON.stringify(ids)) as Row | undefined;
    if (!missing) return;
    throw constraintViolation(
      'preferences',
      f.field,
      missing.id,
      `preferences.${f.field} names "${String(missing.id)}", which is no record of ${f.entity}: nothing was written`,
      { path: `/patch/${f.field}/${String(missing.at)}` },
    );
  }

  /**
   * `isFavorite` true on exactly `ids`, false on the others: a write of each record whose flag
   * changes (revision + 1, updatedAt kept, announced as an update), as setFavorite is.
   */
  #setFlags(f: Favorites, ids: string[]): void {
    const list = JSON.stringify(ids);
    const changed = [
      ...(this.#store
        .prepared(
          `UPDATE "${f.table}" SET "is_favorite" = 0, "revision" = "revision" + 1
           WHERE "is_favorite" = 1 AND "id" NOT IN (SELECT value FROM json_each(?)) RETURNING "id", "revision"`,
        )
        .all(list) as { id: string; revision: number }[]),
      ...(this.#store
        .prepared(
          `UPDATE "${f.table}" SET "is_favorite" = 1, "revision" = "revision" + 1
           WHERE "id" IN (SELECT value FROM json_each(?)) AND "is_favorite" = 0 RETURNING "id", "revision"`,
        )
        .all(list) as { id: string; revision: number }[]),
    ];
    if (changed.length === 0) return;
    this.#store.recordChange(f.entity, 'update', changed.map((r) => r.id), Object.fromEntries(changed.map((r) => [r.id, r.revision])));
  }
}
