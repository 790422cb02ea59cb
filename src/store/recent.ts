/**
 * Recently used items: one entry per (itemType, itemId), newest first, each type capped at its
 * newest `limitPerType` entries (older ones are removed in the transaction that adds one).
 */
import type { RecentItem } from '../generated/types.js';
import { notFound } from '../errors.js';
import { decodeCursor, encodeCursor, type Page } from './repository.js';
import { fromRow, type EntityDescriptor, type Row } from './entity.js';
import { ENTITIES, recent as desc } from './entities.js';
import type { Store } from './store.js';

const q = (ident: string): string => `"${ident.replace(/"/g, '""')}"`;

/** The entity each recent item type names (descriptors with a recentType). */
const ENTITY_OF_TYPE: ReadonlyMap<string, EntityDescriptor> = new Map(
  Object.values(ENTITIES)
    .filter((d) => d.recentType !== undefined)
    .map((d) => [d.recentType!, d]),
);

/**
 * SQL that is true when the item a `recently_used` row `r` names still exists: one EXISTS per item
 * type. An entry of a type no entity has is never answered.
 */
const ITEM_EXISTS = [...ENTITY_OF_TYPE]
  .map(([type, d]) => `(r."item_type" = '${type}' AND EXISTS (SELECT 1 FROM ${q(d.table)} AS x WHERE x."id" = r."item_id"))`)
  .join(' OR ');

export const DEFAULT_RECENT_PER_TYPE = 50;

export interface TouchParams {
  itemType: string;
  itemId: string;
  itemName: string;
  metadata?: Record<string, unknown>;
}

export class RecentItems {
  readonly #store: Store;
  readonly #limitPerType: number;
  /** The newest accessed_at handed out: touches get strictly increasing times, so order is exact. */
  #last: number | undefined;

  constructor(store: Store, limitPerType = DEFAULT_RECENT_PER_TYPE) {
    this.#store = store;
    this.#limitPerType = limitPerType;
  }

  /**
   * Makes the item the newest of its type (inserting or updating its entry). Throws NotFound
   * (`{entity, id}`: the item's family and id) when no such item exists; nothing is written then.
   */
  touch(p: TouchParams): RecentItem {
    return this.#store.write(() => {
      const item = ENTITY_OF_TYPE.get(p.itemType);
      if (!item) throw new Error(`recent.touch: no entity has item type ${p.itemType}`);
      const exists = this.#store.prepared(`SELECT 1 FROM ${q(item.table)} WHERE "id" = ?`).get(p.itemId);
      if (!exists) throw notFound(item.entity, p.itemId);
      this.#last ??= (this.#store.prepared('SELECT max("accessed_at") AS t FROM "recently_used"').get() as { t: number | null }).t ?? 0;
      const at = Math.max(this.#store.now(), this.#last + 1);
      this.#last = at;
      const row = this.#store
        .prepared(
          `INSERT INTO "recently_used" ("id", "item_type", "item_id", "item_name", "accessed_at", "metadata_json")
           VALUES (@id, @type, @itemId, @name, @at, @metadata)
           ON CONFLICT ("item_type", "item_id") DO UPDATE SET "item_name" = excluded."item_name",
             "accessed_at" = excluded."accessed_at", "metadata_json" = coalesce(excluded."metadata_json", "metadata_json"),
             "revision" = "revision" + 1
           RETURNING *`,
        )
        .get({
          id: `${p.itemType}:${p.itemId}`,
          type: p.itemType,
          itemId: p.itemId,
          name: p.itemName,
          at,
          metadata: p.metadata === undefined ? null : JSON.stringify(p.metadata),
        }) as Row;
      const pruned = this.#store
        .prepared(
          `DELETE FROM "recently_used" WHERE "item_type" = @type AND "id" NOT IN
             (SELECT "id" FROM "recently_used" WHERE "item_type" = @type ORDER BY "accessed_at" DESC LIMIT @keep)
           RETURNING "id"`,
        )
        .pluck()
        .all({ type: p.itemType, keep: this.#limitPerType }) as string[];
      this.#store.recordChange('recent', row.revision === 1 ? 'insert' : 'update', [row.id as string]);
      if (pruned.length) this.#store.recordChange('recent', 'delete', pruned);
      return fromRow(desc, row) as unknown as RecentItem;
    });
  }

  /**
   * Entries newest first (ties, which only a file written by another tool can hold, by id), of
   * one type or all, in keyset pages: a cursor holds the last entry's accessedAt and id and the
   * type it was made for (-32602 at /cursor with another). Only entries whose item exists: one
   * left behind by a write that did not remove it (an older version of the store, another tool on
   * the file) is never answered.
   */
  list(options: { itemType?: string; limit?: number; cursor?: string } = {}): Page<RecentItem> {
    const limit = options.limit ?? DEFAULT_RECENT_PER_TYPE;
    const scope = { '(list)': 'recent', itemType: options.itemType };
    const [at, id] = options.cursor === undefined ? [null, null] : decodeCursor(options.cursor, 'accessedAt', 'desc', scope);
    const rows = this.#store
      .prepared(
        `SELECT r.* FROM "recently_used" AS r WHERE (@type IS NULL OR r."item_type" = @type) AND (${ITEM_EXISTS})
         AND (@at IS NULL OR r."accessed_at" < @at OR (r."accessed_at" = @at AND r."id" > @id))
         ORDER BY r."accessed_at" DESC, r."id" LIMIT @limit`,
      )
      .all({ type: options.itemType ?? null, at, id, limit: limit + 1 }) as Row[];
    const items = rows.slice(0, limit).map((r) => fromRow(desc, r) as unknown as RecentItem);
    const last = items[limit - 1];
    return rows.length > limit && last ? { items, nextCursor: encodeCursor('accessedAt', 'desc', last.accessedAt, last.id, scope) } : { items };
  }

  /** Removes the entries of one type, or all; answers how many. */
  clear(itemType?: string): number {
    return this.#store.write(() => {
      const gone = this.#store
        .prepared('DELETE FROM "recently_used" WHERE (@type IS NULL OR "item_type" = @type) RETURNING "id"')
        .pluck()
        .all({ type: itemType ?? null }) as string[];
      if (gone.length) this.#store.recordChange('recent', 'delete', gone);
      return gone.length;
    });
  }
}
