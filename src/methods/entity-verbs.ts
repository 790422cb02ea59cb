/**
 * The contract's shared verb set for an entity family, served by one Repository:
 * create, get, update, save, delete, list, count, saveMany, deleteMany.
 * Families add their own methods beside these (songs.search, songs.setFavorite, …).
 */
import type { Model, Repository } from '../store/repository.js';
import type { RequestContext } from '../rpc/dispatcher.js';

type Verb = (params: Record<string, unknown>, ctx: RequestContext) => unknown;

/** Params of list that are paging and ordering; every other param of list/count is a filter. */
const PAGING = new Set(['limit', 'cursor', 'orderBy', 'direction']);

function filtersOf(params: Record<string, unknown>): Record<string, unknown> {
  const filters: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) if (!PAGING.has(k)) filters[k] = v;
  return filters;
}

/**
 * Handlers for `${family}.create` … `${family}.deleteMany`. Params are already validated against
 * the family's schemas when these run.
 */
export function entityVerbs<T extends object>(family: string, repo: Repository<T>): Record<string, Verb> {
  return {
    [`${family}.create`]: (p) => repo.create(p.item as Model),
    [`${family}.get`]: (p) => repo.get(p.id as string),
    [`${family}.update`]: (p) => repo.update(p.item as Model & { id: string }, p.ifRevision as number | undefined),
    [`${family}.save`]: (p) => repo.save(p.item as Model),
    [`${family}.delete`]: (p) => repo.delete(p.id as string, p.ifRevision as number | undefined),
    [`${family}.list`]: (p) =>
      repo.list({
        limit: p.limit as number | undefined,
        cursor: p.cursor as string | undefined,
        orderBy: p.orderBy as 'updatedAt' | 'createdAt' | 'name' | undefined,
        direction: p.direction as 'asc' | 'desc' | undefined,
        filters: filtersOf(p),
      }),
    [`${family}.count`]: (p) => ({ count: repo.count(filtersOf(p)) }),
    [`${family}.saveMany`]: (p) => ({ items: repo.saveMany(p.items as Model[]) }),
    [`${family}.deleteMany`]: (p) => repo.deleteMany(p.ids as string[]),
  };
}
