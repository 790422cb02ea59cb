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
    'recent.list': ({ itemType, limit }) => ({ items: s.recent.list(itemType, limit) }),
    'recent.clear': ({ itemType }) => ({ count: s.recent.clear(itemType) }),
  };
}
