/**
 * History and trash of songs and performances: `<family>.history`, `.getVersion`,
 * `.restoreVersion`, `.diff`, `.saveVersion`, `.labelVersion` for both families, `trash.*` and
 * `history.configure`. The versions themselves are recorded by the repositories' hooks
 * (src/store/history.ts); these handlers read them and write through the repositories.
 */
import { answerTextOf, copyWithParts, parseKeepingNumbers, withNumbersAsWritten } from '../json-text.js';
import { diffJson } from '../json-diff.js';
import { alreadyExists, conflict, invalidParams, notFound, storageCorrupt } from '../errors.js';
import * as validators from '../generated/validators.js';
import { paramErrors, type Validator } from '../rpc/dispatcher.js';
import { decodeCursor, encodeCursor, DEFAULT_PAGE_SIZE, type Model, type Repository } from '../store/repository.js';
import { DEFAULT_RETENTION, type TrashEntry, type VersionInfo } from '../store/history.js';
import type { Services } from './services.js';

type Handler = (params: any) => unknown;

/**
 * Refuses to write back a version that a save would refuse: the store only records states it
 * wrote, so such a version was made by another tool (StorageCorrupt, naming the first problem),
 * never an internal error or a record of the wrong shape.
 */
function checkRestorable(family: string, model: Model, versionId: string): void {
  const validate = (validators as unknown as Record<string, Validator>)[`${family}_save__params`]!;
  if (validate({ item: model })) return;
  const [first] = paramErrors(validate.errors ?? []);
  const details = `version ${versionId} holds a record a save refuses (${first ? `${first.path.replace(/^\/item/, '') || '/'} ${first.message}` : 'not valid'}): it was not made by this store`;
  throw storageCorrupt(details);
}

/** Play state is use, not content: restoring a version never changes it (as autosave does not). */
const PLAY_STATE = ['isFavorite', 'playCount', 'lastPlayedAt'];
const DAY_MS = 86_400_000;

/** The handlers of one family (`songs` answers `song`, `performances` answers `performance`). */
function historyVerbs(s: Services, family: 'songs' | 'performances', repo: Repository<object>): Record<string, Handler> {
  const one = family === 'songs' ? 'song' : 'performance';
  const h = s.history;

  /** The version `versionId` of this family, or NotFound. */
  const versionOf = (versionId: string): { info: VersionInfo; record: Record<string, unknown> } => {
    const v = h.get(versionId);
    if (!v || v.info.entity !== family) throw notFound('versions', versionId);
    return v;
  };

  return {
    [`${family}.history`]: ({ id, limit, cursor }: { id: string; limit?: number; cursor?: string }) => {
      const size = limit ?? DEFAULT_PAGE_SIZE;
      const scope = { '(list)': 'history', entity: family, entityId: id };
      const before = cursor === undefined ? undefined : (decodeCursor(cursor, 'createdAt', 'desc', scope)[0] as number);
      const items = h.list(family, id, size + 1, before);
      const page = items.slice(0, size);
      const last = page[page.length - 1];
      return items.length > size && last
        ? { items: page, nextCursor: encodeCursor('createdAt', 'desc', last.seq, last.versionId, scope) }
        : { items: page };
    },

    [`${family}.getVersion`]: ({ versionId }: { versionId: string }) => {
      const v = versionOf(versionId);
      return { version: v.info, [one]: v.record };
    },

    [`${family}.restoreVersion`]: ({ versionId, ifRevision }: { versionId: string; ifRevision?: number }) =>
      s.store.write(() => {
        const v = versionOf(versionId);
        const id = v.info.entityId;
        const current = repo.revisionOf(id);
        let record: object;
        if (current !== undefined) {
          if (ifRevision !== undefined && ifRevision !== current) throw conflict(family, id, ifRevision, current);
          const model: Model = copyWithParts(v.record, { id });
          for (const k of [...PLAY_STATE, 'revision', 'updatedAt']) delete model[k];
          checkRestorable(family, model, versionId);
          record = h.as('restore', () => repo.update(model as Model & { id: string }, ifRevision));
        } else {
          const trashed = h.trashed(family, id);
          record = revive(s, family, id, v).record;
          if (family === 'songs' && trashed) for (const p of h.trashedWithSong(id, trashed.deletedAt)) reviveEntry(s, p);
        }
        return { [one]: record, version: h.newest(family, id) };
      }),

    [`${family}.diff`]: ({ from, to }: { from: string; to?: string }) => {
      const a = versionOf(from);
      let target: unknown;
      let toInfo: VersionInfo | undefined;
      if (to !== undefined) {
        const b = versionOf(to);
        if (b.info.entityId !== a.info.entityId) {
          throw invalidParams([{ path: '/to', message: `is a version of ${one} ${JSON.stringify(b.info.entityId)}, not of ${JSON.stringify(a.info.entityId)}` }]);
        }
        target = b.record;
        toInfo = b.info;
      } else {
        target = repo.get(a.info.entityId);
      }
      // Compared with every number as written (a patch must not change 2^64 into 18446744073709552000).
      const exact = (r: object): unknown => {
        try {
          return parseKeepingNumbers(answerTextOf(r) ?? JSON.stringify(r));
        } catch (err) {
          // The store writes only JSON with each key once; anything else was made by another tool.
          const details = `a stored record cannot be compared: ${(err as Error).message}`;
          throw storageCorrupt(details);
        }
      };
      const patch = withNumbersAsWritten(diffJson(exact(a.record), exact(target as object)));
      return { from: a.info, ...(toInfo ? { to: toInfo } : {}), patch };
    },

    [`${family}.saveVersion`]: ({ id, label }: { id: string; label: string }) =>
      s.store.write(() => {
        const version = h.recordCurrent(repo.desc, id, { source: 'save', label, pinned: true });
        if (!version) throw notFound(family, id);
        return version;
      }),

    [`${family}.labelVersion`]: ({ versionId, label, pinned }: { versionId: string; label?: string | null; pinned?: boolean }) =>
      s.store.write(() => {
        versionOf(versionId);
        return h.label(versionId, label, pinned);
      }),
  };
}

type Revived = { entity: string; id: string; revision: number };

/**
 * Inserts a deleted record back from one of its versions: as the version holds it (play state
 * included), with the revision after the newest it ever had and updatedAt now (a write, recorded
 * as a `restore` version); out of the trash.
 */
function revive(s: Services, entity: string, id: string, v: { info: VersionInfo; record: Record<string, unknown> }): Revived & { record: object } {
  const repo = (entity === 'songs' ? s.songs : s.performances) as Repository<object>;
  const newest = s.history.newest(entity, id);
  const model: Model = copyWithParts(v.record, { id, revision: Math.max(newest?.revision ?? 0, v.info.revision) + 1 });
  delete model.updatedAt;
  checkRestorable(entity, model, v.info.versionId);
  const record = s.history.as('restore', () => repo.insertAsIs(model)) as { revision: number };
  s.history.untrash(entity, id);
  return { entity, id, revision: record.revision, record };
}

/** A trash entry brought back from its delete version, unless its id exists again. */
function reviveEntry(s: Services, t: TrashEntry): Revived | undefined {
  const repo = t.entity === 'songs' ? s.songs : s.performances;
  if (repo.revisionOf(t.id) !== undefined) return undefined;
  const v = s.history.get(t.versionId);
  if (!v) throw notFound('versions', t.versionId);
  const { entity, id, revision } = revive(s, t.entity, t.id, v);
  return { entity, id, revision };
}

export function historyMethods(s: Services): Record<string, Handler> {
  const h = s.history;
  const repoOf = (entity: string): Repository<object> => (entity === 'songs' ? s.songs : s.performances) as Repository<object>;
  return {
    ...historyVerbs(s, 'songs', s.songs as Repository<object>),
    ...historyVerbs(s, 'performances', s.performances as Repository<object>),

    'trash.list': ({ entity, limit, cursor }: { entity?: string; limit?: number; cursor?: string }) => {
      const size = limit ?? DEFAULT_PAGE_SIZE;
      const scope = { '(list)': 'trash', entity };
      let after: [number, string, string] | undefined;
      if (cursor !== undefined) {
        const [at, key] = decodeCursor(cursor, 'createdAt', 'desc', scope);
        const [e, ...rest] = key.split('\n');
        after = [at as number, e!, rest.join('\n')];
      }
      const items = h.trashList(entity, size + 1, after);
      const page = items.slice(0, size);
      const last = page[page.length - 1];
      return items.length > size && last
        ? { items: page, nextCursor: encodeCursor('createdAt', 'desc', last.deletedAt, `${last.entity}\n${last.id}`, scope) }
        : { items: page };
    },

    'trash.restore': ({ entity, id }: { entity: 'songs' | 'performances'; id: string }) =>
      s.store.write(() => {
        const t = h.trashed(entity, id);
        if (!t) throw notFound('trash', id);
        if (repoOf(entity).revisionOf(id) !== undefined) throw alreadyExists(entity, id);
        const restored = [reviveEntry(s, t)!];
        if (entity === 'songs') for (const p of h.trashedWithSong(id, t.deletedAt)) restored.push(...[reviveEntry(s, p)].filter((x) => x !== undefined));
        return { restored };
      }),

    'trash.empty': ({ olderThanDays }: { olderThanDays?: number }) =>
      s.store.write(() => {
        const items = h.emptyTrash(olderThanDays === undefined ? undefined : s.store.now() - olderThanDays * DAY_MS);
        return { count: items.length, items };
      }),

    'history.configure': (patch: { keepAllHours?: number; hourlyDays?: number; trashRetentionDays?: number }) =>
      s.store.write(() => {
        const { trashRetentionDays, ...retention } = patch;
        if (Object.keys(retention).length) h.retention = { ...DEFAULT_RETENTION, ...h.retention, ...retention };
        if (trashRetentionDays !== undefined) s.preferences.update({ trashRetentionDays });
        return { ...h.retention, trashRetentionDays: h.trashRetentionDays };
      }),
  };
}
