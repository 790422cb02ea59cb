/** autosave.*: staging, promotion, snapshots, recovery. */
import type { AutosaveSnapshot } from '../generated/types.js';
import type { Services } from './services.js';
import type { FamilyHandlers } from './types.js';

export function autosaveMethods(s: Services): FamilyHandlers<'autosave'> {
  return {
    'autosave.stage': ({ songId, performanceId, snapshot, baseRevision, performanceBaseRevision }, ctx) =>
      s.autosave.stage(songId, performanceId, snapshot as AutosaveSnapshot, ctx.text, {
        song: baseRevision,
        performance: performanceBaseRevision,
      }),
    'autosave.flush': ({ songId }) => s.autosave.flush(songId),
    'autosave.list': ({ songId, performanceId, limit, cursor }) => s.autosaves.list(songId, { performanceId, limit, cursor }),
    'autosave.get': ({ id }) => s.autosaves.get(id),
    'autosave.restore': ({ id }) => s.autosave.restore(id),
    'autosave.delete': ({ id }) => s.autosaves.delete(id),
    'autosave.recoverable': ({ limit, cursor }) => s.autosaves.recoverable({ limit, cursor }),
    'autosave.configure': (patch) => s.autosave.configure(patch),
  };
}
