/**
 * The user's preferences: one row (id 'default') whose every column has the plan's default in the
 * schema. Read whole, changed by merging a patch, reset by putting the row back to its defaults.
 */
import { conflict } from '../errors.js';
import type { StoredPreferences } from '../generated/types.js';
import { preferences as desc } from './entities.js';
import { Repository } from './repository.js';
import type { Store } from './store.js';

const ID = 'default';
/** Fields a patch may carry that the store sets itself. */
const SERVER_FIELDS = new Set(['id', 'updatedAt', 'revision']);

export class Preferences {
  readonly #store: Store;
  readonly #repo: Repository<StoredPreferences>;

  constructor(store: Store) {
    this.#store = store;
    this.#repo = new Repository<StoredPreferences>(store, desc);
  }

  /** The complete record. (Recreates it with its defaults if something removed the row.) */
  get(): StoredPreferences {
    if (this.#repo.revisionOf(ID) === undefined) this.#store.write(() => this.#insertDefaults(1));
    return this.#repo.get(ID);
  }

  /**
   * Merges `patch` into the stored record: absent fields keep their values, `null` clears a field
   * without a default. Throws Conflict when `ifRevision` is not the stored revision.
   */
  update(patch: Record<string, unknown>, ifRevision?: number): StoredPreferences {
    return this.#store.write(() => {
      const merged: Record<string, unknown> = { ...this.get() };
      for (const [key, value] of Object.entries(patch)) {
        if (SERVER_FIELDS.has(key)) continue;
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      return this.#repo.update({ ...merged, id: ID }, ifRevision);
    });
  }

  /** Every field back to its default; the revision still grows. Throws Conflict on ifRevision. */
  reset(ifRevision?: number): StoredPreferences {
    return this.#store.write(() => {
      const revision = this.get().revision;
      if (ifRevision !== undefined && ifRevision !== revision) throw conflict('preferences', ID, ifRevision, revision);
      this.#store.prepared('DELETE FROM "user_preferences" WHERE "id" = ?').run(ID);
      this.#insertDefaults(revision + 1);
      this.#store.recordChange('preferences', 'update', [ID]);
      return this.#repo.get(ID);
    });
  }

  /** The row with only id, time and revision given: every other column takes its schema DEFAULT. */
  #insertDefaults(revision: number): void {
    this.#store
      .prepared('INSERT INTO "user_preferences" ("id", "updated_at", "revision") VALUES (?, ?, ?)')
      .run(ID, this.#store.now(), revision);
  }
}
