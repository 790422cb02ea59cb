/**
 * The entities the store serves, each described once. Adding an entity is a descriptor here, its
 * table in a migration, and its schemas in rpc-schema/.
 */
import { codecs as c, field, type EntityDescriptor } from './entity.js';

/** Play state shared by songs and performances: kept when an update does not carry it. */
const playState = [
  field('isFavorite', 'is_favorite', c.boolean, { default: false, keepWhenAbsent: true }),
  field('playCount', 'play_count', c.integer, { default: 0, keepWhenAbsent: true }),
  field('lastPlayedAt', 'last_played_at', c.integer, { keepWhenAbsent: true }),
];

export const songs: EntityDescriptor = {
  entity: 'songs',
  table: 'songs',
  fields: [
    field('name', 'name', c.text),
    field('version', 'version', c.text, { default: '1.0' }),
    field('metadata.tempo', 'tempo', c.real),
    field('metadata.timeSignature', ['time_signature_numerator', 'time_signature_denominator'], c.pair),
    field('metadata.duration', 'duration_seconds', c.real),
    field('metadata.key', 'key', c.text),
    field('metadata.tags', 'tags', c.json, { default: [] }),
    field('metadata.composer', 'composer', c.text),
    field('metadata.genre', 'genre', c.text),
    field('metadata.mood', 'mood', c.text),
    field('metadata.comments', 'comments', c.text),
    field('metadata.difficulty', 'difficulty', c.text),
    field('metadata.rating', 'rating', c.integer),
    field('determinismSeed', 'determinism_seed', c.text),
    field('realizationPolicy', 'realization_policy_json', c.json),
    field('sections', 'sections_json', c.json),
    field('roles', 'roles_json', c.json),
    field('projections', 'projections_json', c.json),
    field('mixGraph', 'mix_graph_json', c.json),
    ...playState,
  ],
  filters: { isFavorite: 'isFavorite', genre: 'metadata.genre' },
  parents: {},
  // FTS columns: name, composer, genre, mood, tags, comments
  search: { table: 'songs_fts', weights: [10, 4, 3, 3, 3, 1] },
  timestamps: { created: true, updated: true },
};

/** Every entity by family name. */
export const ENTITIES: Readonly<Record<string, EntityDescriptor>> = { songs };

/**
 * Family name of each table, for cascades found in the schema (PRAGMA foreign_key_list) that
 * reach tables whose families have no repository yet.
 */
export const FAMILY_OF_TABLE: Readonly<Record<string, string>> = {
  songs: 'songs',
  performances: 'performances',
  instruments: 'instruments',
  voices: 'voices',
  presets: 'presets',
  autosaves: 'autosaves',
  recently_used: 'recent',
  user_preferences: 'preferences',
};
