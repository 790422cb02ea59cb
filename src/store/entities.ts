/**
 * The entities the store serves, each described once. Adding an entity is a descriptor here, its
 * table in a migration, and its schemas in rpc-schema/.
 */
import { constraintViolation, invalidParams } from '../errors.js';
import { codecs as c, field, type CheckContext, type EntityDescriptor, type FieldSpec, type Row } from './entity.js';

/** Play state shared by songs and performances: kept when an update does not carry it. */
const playState = [
  field('isFavorite', 'is_favorite', c.boolean, { keepWhenAbsent: true }),
  field('playCount', 'play_count', c.integer, { keepWhenAbsent: true }),
  field('lastPlayedAt', 'last_played_at', c.integer, { keepWhenAbsent: true }),
];

export const songs: EntityDescriptor = {
  recentType: 'song',
  entity: 'songs',
  table: 'songs',
  fields: [
    field('name', 'name', c.text),
    field('version', 'version', c.text),
    field('metadata.tempo', 'tempo', c.real),
    field('metadata.timeSignature', ['time_signature_numerator', 'time_signature_denominator'], c.pair),
    field('metadata.duration', 'duration_seconds', c.real),
    field('metadata.key', 'key', c.text),
    field('metadata.tags', 'tags', c.json),
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
  search: {
    table: 'songs_fts',
    columns: ['name', 'composer', 'genre', 'mood', 'tags', 'comments'],
    weights: [10, 4, 3, 3, 3, 1],
    filters: { composer: { column: 'composer' }, genre: { column: 'genre' }, mood: { column: 'mood' }, tags: { column: 'tags', list: true } },
    tiers: [['name'], ['name', 'composer', 'genre', 'mood', 'tags']],
  },
  nameKey: true,
  timestamps: { created: true, updated: true },
};

export const performances: EntityDescriptor = {
  entity: 'performances',
  table: 'performances',
  fields: [
    field('songId', 'song_id', c.text),
    field('name', 'name', c.text),
    field('version', 'version', c.text),
    field('arrangementStyle', 'arrangement_style', c.text),
    field('density', 'density', c.real),
    field('grooveProfileId', 'groove_profile_id', c.text),
    field('instrumentationMap', 'instrumentation_map_json', c.json),
    field('consoleXProfileId', 'console_x_profile_id', c.text),
    field('mixTargets', 'mix_targets_json', c.json),
    field('effectsChains', 'effects_chains_json', c.json),
    field('automation', 'automation_json', c.json),
    field('markers', 'markers_json', c.json),
    field('loopPoints', 'loop_points_json', c.json),
    field('tempoMap', 'tempo_map_json', c.json),
    field('timeSignatureMap', 'time_signature_map_json', c.json),
    field('keyChanges', 'key_changes_json', c.json),
    field('sections', 'sections_json', c.json),
    field('metadata', 'metadata_json', c.json),
    ...playState,
  ],
  filters: { songId: 'songId', isFavorite: 'isFavorite', arrangementStyle: 'arrangementStyle' },
  parents: { songId: 'songs' },
  nameKey: true,
  timestamps: { created: true, updated: true },
  recentType: 'performance',
  // The performance's counterpart of a song's metadata columns: what a browser lists.
  summaryParts: ['metadata'],
};

export const instruments: EntityDescriptor = {
  entity: 'instruments',
  table: 'instruments',
  fields: [
    field('name', 'name', c.text),
    field('type', 'type', c.text),
    field('category', 'category', c.text),
    field('pluginId', 'plugin_id', c.text),
    field('isBuiltin', 'is_builtin', c.boolean),
    field('isAvailable', 'is_available', c.boolean),
    field('manufacturer', 'manufacturer', c.text),
    field('version', 'version', c.text),
    field('description', 'description', c.text),
    field('tags', 'tags', c.json),
    field('customData', 'custom_data_json', c.json),
  ],
  filters: { type: 'type', category: 'category', isAvailable: 'isAvailable', isBuiltin: 'isBuiltin' },
  parents: {},
  // FTS columns: name, type, category, manufacturer, description, tags
  search: {
    table: 'instruments_fts',
    columns: ['name', 'type', 'category', 'manufacturer', 'description', 'tags'],
    weights: [10, 3, 3, 3, 1, 3],
  },
  nameKey: true,
  timestamps: { created: true, updated: true },
  recentType: 'instrument',
};

/** low <= high for each MIDI range of a voice (the schema cannot compare two fields). */
function checkRanges(row: Row, at: string): Error | undefined {
  const errors = [
    ['key_range_low', 'key_range_high', 'keyRangeLow', 'keyRangeHigh'],
    ['velocity_range_low', 'velocity_range_high', 'velocityRangeLow', 'velocityRangeHigh'],
  ]
    .filter(([lo, hi]) => (row[lo!] as number) > (row[hi!] as number))
    .map(([lo, hi, loName, hiName]) => ({
      path: `${at}/${loName}`,
      message: `must not be above ${hiName} (${String(row[lo!])} > ${String(row[hi!])})`,
    }));
  return errors.length ? invalidParams(errors) : undefined;
}

/** At most this many ids of the records in the way are named in a refusal (their count is given too). */
export const MAX_IDS_IN_REFUSAL = 20;

/**
 * A voice keeps its instrument while presets name it: moving it to another instrument would make
 * those presets name a voice of another instrument (the presets' rule). Refused, nothing written;
 * the refusal names the presets (at most MAX_IDS_IN_REFUSAL, and how many there are), so the host
 * can move or detach them first.
 */
function checkVoiceMove(row: Row, at: string, db: CheckContext): Error | undefined {
  const stored = db.lookup('voices', row.id);
  if (!stored || stored.instrument_id === row.instrument_id) return undefined;
  const presets = db.all(
    `SELECT "id", count(*) OVER () AS "total" FROM "presets"
     WHERE "voice_id" = @voice AND "instrument_id" <> @instrument ORDER BY "id" LIMIT @max`,
    { voice: row.id, instrument: row.instrument_id, max: MAX_IDS_IN_REFUSAL },
  );
  if (presets.length === 0) return undefined;
  const total = presets[0]!.total as number;
  return constraintViolation(
    'voices',
    'instrumentId',
    row.instrument_id,
    `voice "${String(row.id)}" cannot move to instrument "${String(row.instrument_id)}": ${total} preset(s) of ` +
      `instrument "${String(stored.instrument_id)}" name it (first: ${presets.map((p) => `"${String(p.id)}"`).join(', ')}); ` +
      'move those presets or clear their voiceId first',
    { path: `${at}/instrumentId`, presetIds: presets.map((p) => p.id), presetCount: total },
  );
}

export const voices: EntityDescriptor = {
  entity: 'voices',
  table: 'voices',
  fields: [
    field('instrumentId', 'instrument_id', c.text),
    field('name', 'name', c.text),
    field('number', 'number', c.integer),
    field('midiChannel', 'midi_channel', c.integer),
    field('midiProgram', 'midi_program', c.integer),
    field('keyRangeLow', 'key_range_low', c.integer),
    field('keyRangeHigh', 'key_range_high', c.integer),
    field('velocityRangeLow', 'velocity_range_low', c.integer),
    field('velocityRangeHigh', 'velocity_range_high', c.integer),
    field('description', 'description', c.text),
    field('color', 'color', c.text),
    field('icon', 'icon', c.text),
  ],
  filters: { instrumentId: 'instrumentId' },
  parents: { instrumentId: 'instruments' },
  nameKey: true,
  timestamps: { created: true, updated: true },
  recentType: 'voice',
  check: (row, at, db) => checkRanges(row, at) ?? checkVoiceMove(row, at, db),
};

export const presets: EntityDescriptor = {
  entity: 'presets',
  table: 'presets',
  fields: [
    field('instrumentId', 'instrument_id', c.text),
    field('voiceId', 'voice_id', c.text),
    field('name', 'name', c.text),
    field('category', 'category', c.text),
    field('parameters', 'parameters_json', c.json),
    field('isBuiltin', 'is_builtin', c.boolean),
    field('isReadonly', 'is_readonly', c.boolean),
    field('description', 'description', c.text),
    field('tags', 'tags', c.json),
    field('rating', 'rating', c.integer),
    field('author', 'author', c.text),
  ],
  filters: { instrumentId: 'instrumentId', voiceId: 'voiceId', category: 'category', isBuiltin: 'isBuiltin' },
  parents: { instrumentId: 'instruments', voiceId: 'voices' },
  search: { table: 'presets_fts', columns: ['name', 'category', 'description', 'tags', 'author'], weights: [10, 3, 1, 3, 2] },
  nameKey: true,
  timestamps: { created: true, updated: true },
  recentType: 'preset',
  /** A preset's voice must be a voice of the preset's instrument. */
  check: (row, _at, db) => {
    if (row.voice_id === null || row.voice_id === undefined) return undefined;
    const voice = db.lookup('voices', row.voice_id);
    if (voice && voice.instrument_id !== row.instrument_id) {
      return constraintViolation(
        'presets',
        'voiceId',
        row.voice_id,
        `presets.voiceId "${String(row.voice_id)}" is a voice of instrument "${String(voice.instrument_id)}", not of "${String(row.instrument_id)}"`,
      );
    }
    return undefined;
  },
};

/** A camelCase field for each column: preferences map one to one (`_json` dropped). */
const prefField = (column: string, codec: FieldSpec['codec']): FieldSpec =>
  field(
    column.replace(/_json$/, '').replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase()),
    column,
    codec,
  );

export const preferences: EntityDescriptor = {
  entity: 'preferences',
  table: 'user_preferences',
  fields: [
    prefField('version', c.text),
    ...['audio_device', 'input_device', 'output_device', 'color_scheme', 'theme', 'font_size', 'default_save_location',
      'default_key', 'default_export_format', 'default_export_quality'].map((col) => prefField(col, c.text)),
    ...['sample_rate', 'buffer_size', 'undo_history_size', 'default_time_signature_numerator',
      'default_time_signature_denominator', 'count_in_bars', 'trash_retention_days'].map((col) => prefField(col, c.integer)),
    ...['auto_save_interval', 'grid_size_bars', 'default_tempo'].map((col) => prefField(col, c.real)),
    ...['midi_clock_enabled', 'show_keyboard_shortcuts', 'auto_quantize', 'snap_to_grid', 'metronome_enabled',
      'count_in_enabled', 'normalize_on_export', 'lookahead_enabled', 'deterministic_mode', 'telemetry_enabled',
      'crash_reports_enabled', 'analytics_enabled', 'developer_mode', 'verbose_logging', 'performance_metrics',
    ].map((col) => prefField(col, c.boolean)),
    ...['midi_input_devices_json', 'midi_output_devices_json', 'window_state_json', 'panel_layout_json',
      'splitter_positions_json', 'library_folders_json', 'recent_songs_json', 'favorite_songs_json',
      'favorite_performances_json', 'favorite_instruments_json'].map((col) => prefField(col, c.json)),
  ],
  filters: {},
  parents: {},
  timestamps: { created: false, updated: true },
};

export const recent: EntityDescriptor = {
  entity: 'recent',
  table: 'recently_used',
  fields: [
    field('itemType', 'item_type', c.text),
    field('itemId', 'item_id', c.text),
    field('itemName', 'item_name', c.text),
    field('accessedAt', 'accessed_at', c.integer),
    field('metadata', 'metadata_json', c.json),
  ],
  filters: {},
  parents: {},
  timestamps: { created: false, updated: false },
};

/** Every entity with a repository, by family name. */
export const ENTITIES: Readonly<Record<string, EntityDescriptor>> = { songs, performances, instruments, voices, presets };

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
