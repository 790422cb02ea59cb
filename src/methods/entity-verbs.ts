/**
 * The contract's shared verb set for an entity family, served by one Repository:
 * create, get, update, save, delete, list, count, saveMany, deleteMany.
 * Families add their own methods beside these (songs.search, songs.setFavorite, …).
 */
import type { Model, Repository, View } from '../store/repository.js';
import type { RequestContext } from '../rpc/dispatcher.js';
import { textsAt, withPartTexts } from '../json-text.js';
import { partColumns, type EntityDescriptor } from '../store/entity.js';

type Verb = (params: Record<string, unknown>, ctx: RequestContext) => unknown;

/** Params of list that are paging, ordering and view; every other param of list/count is a filter. */
const PAGING = new Set(['limit', 'cursor', 'orderBy', 'direction', 'view']);

function filtersOf(params: Record<string, unknown>): Record<string, unknown> {
  const filters: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) if (!PAGING.has(k)) filters[k] = v;
  return filters;
}

/**
 * The items of a write with the texts of their structured parts as the request sent them (found
 * in the request's own text), so the store keeps those texts (json-text.ts). `at` is where the
 * items are in the request: `/params/item`, or `/params/items` for a list.
 */
export function withSentParts<T extends object>(desc: EntityDescriptor, ctx: RequestContext, at: string, items: T[], list: boolean): T[] {
  const parts = partColumns(desc);
  if (ctx.text === undefined || parts.length === 0) return items;
  const base = items.map((_, i) => (list ? `${at}/${i}` : at));
  const found = textsAt(ctx.text, base.flatMap((b) => parts.map((p) => `${b}/${p.path}`)));
  return items.map((item, i) => withPartTexts(item, new Map(parts.flatMap((p) => {
    const t = found.get(`${base[i]}/${p.path}`);
    return t === undefined ? [] : [[p.path, t] as [string, string]];
  }))));
}

/**
 * Handlers for `${family}.create` … `${family}.deleteMany`. Params are already validated against
 * the family's schemas when these run.
 */
export function entityVerbs<T extends object>(family: string, repo: Repository<T>): Record<string, Verb> {
  const sent = <I extends Model>(item: I, ctx: RequestContext): I => withSentParts(repo.desc, ctx, '/params/item', [item], false)[0]!;
  return {
    [`${family}.create`]: (p, ctx) => repo.create(sent(p.item as Model, ctx)),
    // The answer is the stored record's text: no model is built for it.
    [`${family}.get`]: (p) => repo.getAnswer(p.id as string),
    [`${family}.update`]: (p, ctx) => repo.update(sent(p.item as Model & { id: string }, ctx), p.ifRevision as number | undefined),
    [`${family}.save`]: (p, ctx) => repo.save(sent(p.item as Model, ctx)),
    [`${family}.delete`]: (p) => repo.delete(p.id as string, p.ifRevision as number | undefined),
    [`${family}.list`]: (p) =>
      repo.list({
        limit: p.limit as number | undefined,
        cursor: p.cursor as string | undefined,
        orderBy: p.orderBy as 'updatedAt' | 'createdAt' | 'name' | undefined,
        direction: p.direction as 'asc' | 'desc' | undefined,
        view: p.view as View | undefined,
        filters: filtersOf(p),
      }),
    [`${family}.count`]: (p) => ({ count: repo.count(filtersOf(p)) }),
    [`${family}.saveMany`]: (p, ctx) => ({ items: repo.saveMany(withSentParts(repo.desc, ctx, '/params/items', p.items as Model[], true)) }),
    [`${family}.deleteMany`]: (p) => repo.deleteMany(p.ids as string[]),
  };
}
