/** songs.*: the shared verbs, plus search, setFavorite and markPlayed. */
import type { Services } from './services.js';
import type { FamilyHandlers, Result } from './types.js';
import { entityVerbs } from './entity-verbs.js';

export function songsMethods(s: Services): FamilyHandlers<'songs'> {
  const repo = s.songs;
  return {
    ...(entityVerbs('songs', repo) as unknown as Omit<FamilyHandlers<'songs'>, 'songs.search' | 'songs.setFavorite' | 'songs.markPlayed'>),
    'songs.search': ({ query, tags, composer, genre, mood, limit, cursor, view }) =>
      repo.search(query, { limit, cursor, view, filters: { tags, composer, genre, mood } }) as Result<'songs.search'>,
    'songs.setFavorite': ({ id, isFavorite, ifRevision }) => repo.setFields(id, { isFavorite }, { ifRevision }),
    'songs.markPlayed': ({ id }) => repo.setFields(id, { lastPlayedAt: s.store.now() }, { increment: ['playCount'] }),
  };
}
