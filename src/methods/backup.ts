/** backup.*: the online backup, its files, and restore. */
import type { LongOperation, Progress } from '../services/backups.js';
import type { RequestContext } from '../rpc/dispatcher.js';
import type { Services } from './services.js';
import type { FamilyHandlers } from './types.js';

/**
 * `$/progress` on the request's workDoneToken (LSP's convention): begin, a report each time the
 * whole percentage grows, end. Nothing without a token.
 */
export function progressOf(s: Services, token: string | number | undefined): Progress | undefined {
  if (token === undefined) return undefined;
  let last = -1;
  const send = (value: Record<string, unknown>): void => s.notify('$/progress', { token, value });
  return {
    begin: (message) => send({ kind: 'begin', message, percentage: 0 }),
    report: (fraction, message) => {
      const percentage = Math.min(100, Math.max(0, Math.floor(fraction * 100)));
      if (percentage <= last && message === undefined) return;
      last = percentage;
      send({ kind: 'report', percentage, ...(message === undefined ? {} : { message }) });
    },
    end: (message) => send({ kind: 'end', ...(message === undefined ? {} : { message }) }),
  };
}

/**
 * After the database was replaced whole (backup.restore, import.full): one `store.reset`, before
 * the answer, so every host reloads what it holds (no store.changed is sent per row).
 */
export function announceReset(s: Services, reason: 'restore' | 'import', restored: { restoredFrom: string; schemaVersion: number }): void {
  s.notify('store.reset', { reason, restoredFrom: restored.restoredFrom, schemaVersion: restored.schemaVersion });
}

export const longOperation = (s: Services, token: string | number | undefined, ctx: RequestContext): LongOperation => ({
  progress: progressOf(s, token),
  cancelled: () => ctx.cancelled,
});

export function backupMethods(s: Services): FamilyHandlers<'backup'> {
  return {
    'backup.create': ({ label, workDoneToken }, ctx) => s.backups.create('manual', label, longOperation(s, workDoneToken, ctx)),
    'backup.list': (p) => s.backups.list(p),
    'backup.verify': ({ path }) => s.backups.verify(path),
    'backup.delete': ({ path }) => s.backups.delete(path),
    'backup.prune': (p) => s.backups.prune(p),
    'backup.restore': async ({ path, workDoneToken }, ctx) => {
      const restored = await s.backups.restore(path, longOperation(s, workDoneToken, ctx));
      announceReset(s, 'restore', restored);
      return restored;
    },
  };
}
