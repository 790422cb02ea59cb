/** preferences.* and recent.*: the user level. */
import type { Services } from './services.js';
import type { FamilyHandlers } from './types.js';

export function preferencesMethods(s: Services): FamilyHandlers<'preferences'> {
  return {
    'preferences.get': () => s.preferences.get(),
    'preferences.update': ({ patch, ifRevision }) => s.preferences.update(patch as Record<string, unknown>, ifRevision),
    'preferences.reset': ({ ifRevision }) => s.preferences.reset(ifRevision),
  };
}

export function recentMethods(s: Services): FamilyHandlers<'recent'> {
  return {
    'recent.touch': (p) => s.recent.touch(p),
    'recent.list': ({ itemType, limit, cursor }) => s.recent.list({ itemType, limit, cursor }),
    'recent.clear': ({ itemType }) => ({ count: s.recent.clear(itemType) }),
  };
}
