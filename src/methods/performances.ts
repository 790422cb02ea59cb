/** performances.*: the shared verbs (list/count filter by songId), setFavorite, markPlayed. */
import type { Services } from './services.js';
import type { FamilyHandlers } from './types.js';
import { entityVerbs } from './entity-verbs.js';

export function performancesMethods(s: Services): FamilyHandlers<'performances'> {
  const repo = s.performances;
  return {
    ...(entityVerbs('performances', repo) as unknown as Omit<
      FamilyHandlers<'performances'>,
      'performances.setFavorite' | 'performances.markPlayed'
    >),
    'performances.setFavorite': ({ id, isFavorite, ifRevision }) => repo.setFields(id, { isFavorite }, { ifRevision }),
    'performances.markPlayed': ({ id }) => repo.setFields(id, { lastPlayedAt: s.store.now() }, { increment: ['playCount'] }),
  };
}
