-- =============================================================================
-- 0001_initial: the nine tables of the persistence plan, with its bugs fixed.
--
-- Applied by src/store/migrations.ts inside one BEGIN IMMEDIATE transaction,
-- followed by PRAGMA foreign_key_check and PRAGMA user_version = 1.
-- A landed migration is never edited: a change is a new file (0002_…).
--
-- Differences from the plan, and why:
--   * Connection pragmas (WAL, synchronous, cache, foreign_keys, busy_timeout,
--     journal_size_limit) are set by the store on every connection, not here:
--     foreign_keys is per connection and SQLite's default is OFF, so the plan's
--     ON DELETE CASCADE never fired.
--   * No updated_at triggers. The plan's triggers updated the row they fired
--     on (second resolution, seconds not milliseconds, and one said FOR EACH ROW
--     twice, a syntax error). The store sets created_at / updated_at in integer
--     milliseconds in the same statement as the write.
--   * Every entity table has `revision` (starts at 1, +1 per write) for
--     optimistic concurrency (`ifRevision`).
--   * Tables are STRICT (SQLite >= 3.37) so a wrong type is an error, not a
--     silently coerced value. Debian's sqlite3 3.40 reads them.
--   * Sort indexes end in `id` so cursor pagination (keyset, not OFFSET) is an
--     index walk. They keep the plan's names.
--   * Full-text search: FTS5 external-content tables kept in sync by triggers,
--     so the index changes in the same transaction as the row.
--     NOTE: VACUUM may renumber rowids of tables without an INTEGER PRIMARY KEY;
--     after a VACUUM the store rebuilds these indexes ('rebuild' command).
-- =============================================================================

-- =============================================================================
-- SONGS
-- =============================================================================

CREATE TABLE songs (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '1.0',
    created_at INTEGER NOT NULL,                -- ms since the Unix epoch
    updated_at INTEGER NOT NULL,                -- ms since the Unix epoch
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),

    -- Song metadata
    tempo REAL NOT NULL DEFAULT 120.0,
    time_signature_numerator INTEGER NOT NULL DEFAULT 4,
    time_signature_denominator INTEGER NOT NULL DEFAULT 4,
    duration_seconds REAL,
    key TEXT,
    tags TEXT NOT NULL DEFAULT '[]',            -- JSON array of strings
    composer TEXT,
    genre TEXT,
    mood TEXT,
    comments TEXT,
    difficulty TEXT CHECK (difficulty IN ('beginner', 'intermediate', 'advanced', 'expert')),
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),

    -- Realization
    determinism_seed TEXT NOT NULL,
    realization_policy_json TEXT,

    -- Structured parts, stored verbatim as JSON
    sections_json TEXT NOT NULL,
    roles_json TEXT NOT NULL,
    projections_json TEXT NOT NULL,
    mix_graph_json TEXT NOT NULL,

    -- Play state
    is_favorite INTEGER NOT NULL DEFAULT 0 CHECK (is_favorite IN (0, 1)),
    play_count INTEGER NOT NULL DEFAULT 0 CHECK (play_count >= 0),
    last_played_at INTEGER,
    auto_save_id TEXT                           -- newest autosave (no FK: autosaves reference songs)
) STRICT;

CREATE INDEX idx_songs_name ON songs(name COLLATE NOCASE, id);
CREATE INDEX idx_songs_created_at ON songs(created_at, id);
CREATE INDEX idx_songs_updated_at ON songs(updated_at, id);
CREATE INDEX idx_songs_tags ON songs(tags);
CREATE INDEX idx_songs_genre ON songs(genre);
CREATE INDEX idx_songs_is_favorite ON songs(is_favorite);

CREATE VIRTUAL TABLE songs_fts USING fts5(
    name, composer, genre, mood, tags, comments,
    content = 'songs', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER songs_fts_insert AFTER INSERT ON songs BEGIN
    INSERT INTO songs_fts(rowid, name, composer, genre, mood, tags, comments)
    VALUES (new.rowid, new.name, new.composer, new.genre, new.mood, new.tags, new.comments);
END;

CREATE TRIGGER songs_fts_delete AFTER DELETE ON songs BEGIN
    INSERT INTO songs_fts(songs_fts, rowid, name, composer, genre, mood, tags, comments)
    VALUES ('delete', old.rowid, old.name, old.composer, old.genre, old.mood, old.tags, old.comments);
END;

CREATE TRIGGER songs_fts_update AFTER UPDATE OF name, composer, genre, mood, tags, comments ON songs BEGIN
    INSERT INTO songs_fts(songs_fts, rowid, name, composer, genre, mood, tags, comments)
    VALUES ('delete', old.rowid, old.name, old.composer, old.genre, old.mood, old.tags, old.comments);
    INSERT INTO songs_fts(rowid, name, composer, genre, mood, tags, comments)
    VALUES (new.rowid, new.name, new.composer, new.genre, new.mood, new.tags, new.comments);
END;

-- =============================================================================
-- PERFORMANCES
-- =============================================================================

CREATE TABLE performances (
    id TEXT PRIMARY KEY NOT NULL,
    song_id TEXT NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '1.0',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),

    -- Arrangement
    arrangement_style TEXT NOT NULL,            -- 'SOLO_PIANO' | 'SATB' | 'ROCK_BAND' | ...
    density REAL NOT NULL DEFAULT 1.0,
    groove_profile_id TEXT NOT NULL DEFAULT 'default',

    -- Instrumentation
    instrumentation_map_json TEXT NOT NULL,

    -- Mix
    console_x_profile_id TEXT NOT NULL DEFAULT 'default',
    mix_targets_json TEXT NOT NULL,

    -- Enhancements
    effects_chains_json TEXT,
    automation_json TEXT,
    markers_json TEXT,
    loop_points_json TEXT,
    tempo_map_json TEXT,
    time_signature_map_json TEXT,
    key_changes_json TEXT,
    sections_json TEXT,

    -- Metadata and play state
    metadata_json TEXT,
    is_favorite INTEGER NOT NULL DEFAULT 0 CHECK (is_favorite IN (0, 1)),
    play_count INTEGER NOT NULL DEFAULT 0 CHECK (play_count >= 0),
    last_played_at INTEGER
) STRICT;

CREATE INDEX idx_performances_song_id ON performances(song_id, updated_at, id);
CREATE INDEX idx_performances_name ON performances(name COLLATE NOCASE, id);
CREATE INDEX idx_performances_created_at ON performances(created_at, id);
CREATE INDEX idx_performances_updated_at ON performances(updated_at, id);
CREATE INDEX idx_performances_arrangement_style ON performances(arrangement_style);
CREATE INDEX idx_performances_is_favorite ON performances(is_favorite);

-- =============================================================================
-- USER PREFERENCES (one row, id 'default')
-- =============================================================================

CREATE TABLE user_preferences (
    id TEXT PRIMARY KEY NOT NULL DEFAULT 'default' CHECK (id = 'default'),
    version TEXT NOT NULL DEFAULT '1.0',
    updated_at INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),

    -- Audio
    audio_device TEXT,
    sample_rate INTEGER NOT NULL DEFAULT 44100,
    buffer_size INTEGER NOT NULL DEFAULT 512,
    input_device TEXT,
    output_device TEXT,

    -- MIDI
    midi_input_devices_json TEXT NOT NULL DEFAULT '[]',
    midi_output_devices_json TEXT NOT NULL DEFAULT '[]',
    midi_clock_enabled INTEGER NOT NULL DEFAULT 0,

    -- UI
    theme TEXT NOT NULL DEFAULT 'system' CHECK (theme IN ('light', 'dark', 'system')),
    font_size TEXT NOT NULL DEFAULT 'medium' CHECK (font_size IN ('small', 'medium', 'large', 'extraLarge')),
    color_scheme TEXT NOT NULL DEFAULT 'blue',
    show_keyboard_shortcuts INTEGER NOT NULL DEFAULT 1,
    auto_save_interval REAL NOT NULL DEFAULT 60.0,   -- seconds

    -- Window / layout
    window_state_json TEXT NOT NULL DEFAULT '{}',
    panel_layout_json TEXT NOT NULL DEFAULT '{}',
    splitter_positions_json TEXT NOT NULL DEFAULT '{}',

    -- Library
    library_folders_json TEXT NOT NULL DEFAULT '[]',
    default_save_location TEXT,
    recent_songs_json TEXT NOT NULL DEFAULT '[]',
    favorite_songs_json TEXT NOT NULL DEFAULT '[]',
    favorite_performances_json TEXT NOT NULL DEFAULT '[]',
    favorite_instruments_json TEXT NOT NULL DEFAULT '[]',

    -- Editing
    auto_quantize INTEGER NOT NULL DEFAULT 0,
    snap_to_grid INTEGER NOT NULL DEFAULT 1,
    grid_size_bars REAL NOT NULL DEFAULT 1.0,
    undo_history_size INTEGER NOT NULL DEFAULT 100,

    -- Performance
    default_tempo REAL NOT NULL DEFAULT 120.0,
    default_time_signature_numerator INTEGER NOT NULL DEFAULT 4,
    default_time_signature_denominator INTEGER NOT NULL DEFAULT 4,
    default_key TEXT NOT NULL DEFAULT 'C major',
    metronome_enabled INTEGER NOT NULL DEFAULT 1,
    count_in_enabled INTEGER NOT NULL DEFAULT 0,
    count_in_bars INTEGER NOT NULL DEFAULT 4,

    -- Export
    default_export_format TEXT NOT NULL DEFAULT 'wav',
    default_export_quality TEXT NOT NULL DEFAULT 'high',
    normalize_on_export INTEGER NOT NULL DEFAULT 1,

    -- Advanced
    lookahead_enabled INTEGER NOT NULL DEFAULT 1,
    deterministic_mode INTEGER NOT NULL DEFAULT 0,
    telemetry_enabled INTEGER NOT NULL DEFAULT 1,
    crash_reports_enabled INTEGER NOT NULL DEFAULT 1,
    analytics_enabled INTEGER NOT NULL DEFAULT 1,

    -- Developer
    developer_mode INTEGER NOT NULL DEFAULT 0,
    verbose_logging INTEGER NOT NULL DEFAULT 0,
    performance_metrics INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The one preferences row exists from the start, carrying every default.
INSERT INTO user_preferences (id, updated_at)
VALUES ('default', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

-- =============================================================================
-- INSTRUMENTS (instrument registry)
-- =============================================================================

CREATE TABLE instruments (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,                         -- 'synth' | 'sampler' | 'piano' | 'guitar' | ...
    category TEXT,                              -- 'Local' | 'Kane Marco' | 'Third Party'
    plugin_id TEXT,
    is_builtin INTEGER NOT NULL DEFAULT 1 CHECK (is_builtin IN (0, 1)),
    is_available INTEGER NOT NULL DEFAULT 1 CHECK (is_available IN (0, 1)),

    -- Metadata
    manufacturer TEXT,
    version TEXT,
    description TEXT,
    tags TEXT NOT NULL DEFAULT '[]',            -- JSON array of strings
    custom_data_json TEXT,

    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1)
) STRICT;

CREATE INDEX idx_instruments_name ON instruments(name COLLATE NOCASE, id);
CREATE INDEX idx_instruments_created_at ON instruments(created_at, id);
CREATE INDEX idx_instruments_updated_at ON instruments(updated_at, id);
CREATE INDEX idx_instruments_type ON instruments(type);
CREATE INDEX idx_instruments_category ON instruments(category);

CREATE VIRTUAL TABLE instruments_fts USING fts5(
    name, type, category, manufacturer, description, tags,
    content = 'instruments', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER instruments_fts_insert AFTER INSERT ON instruments BEGIN
    INSERT INTO instruments_fts(rowid, name, type, category, manufacturer, description, tags)
    VALUES (new.rowid, new.name, new.type, new.category, new.manufacturer, new.description, new.tags);
END;

CREATE TRIGGER instruments_fts_delete AFTER DELETE ON instruments BEGIN
    INSERT INTO instruments_fts(instruments_fts, rowid, name, type, category, manufacturer, description, tags)
    VALUES ('delete', old.rowid, old.name, old.type, old.category, old.manufacturer, old.description, old.tags);
END;

CREATE TRIGGER instruments_fts_update AFTER UPDATE OF name, type, category, manufacturer, description, tags ON instruments BEGIN
    INSERT INTO instruments_fts(instruments_fts, rowid, name, type, category, manufacturer, description, tags)
    VALUES ('delete', old.rowid, old.name, old.type, old.category, old.manufacturer, old.description, old.tags);
    INSERT INTO instruments_fts(rowid, name, type, category, manufacturer, description, tags)
    VALUES (new.rowid, new.name, new.type, new.category, new.manufacturer, new.description, new.tags);
END;

-- =============================================================================
-- VOICES (multi-timbral instruments)
-- =============================================================================

CREATE TABLE voices (
    id TEXT PRIMARY KEY NOT NULL,
    instrument_id TEXT NOT NULL REFERENCES instruments(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    number INTEGER NOT NULL CHECK (number BETWEEN 1 AND 16),

    -- Voice characteristics
    midi_channel INTEGER CHECK (midi_channel BETWEEN 1 AND 16),
    midi_program INTEGER CHECK (midi_program BETWEEN 0 AND 127),
    key_range_low INTEGER NOT NULL DEFAULT 0 CHECK (key_range_low BETWEEN 0 AND 127),
    key_range_high INTEGER NOT NULL DEFAULT 127 CHECK (key_range_high BETWEEN 0 AND 127),
    velocity_range_low INTEGER NOT NULL DEFAULT 0 CHECK (velocity_range_low BETWEEN 0 AND 127),
    velocity_range_high INTEGER NOT NULL DEFAULT 127 CHECK (velocity_range_high BETWEEN 0 AND 127),

    -- Metadata
    description TEXT,
    color TEXT,
    icon TEXT,

    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),

    CHECK (key_range_low <= key_range_high),
    CHECK (velocity_range_low <= velocity_range_high)
) STRICT;

CREATE INDEX idx_voices_instrument_id ON voices(instrument_id, updated_at, id);
CREATE INDEX idx_voices_name ON voices(name COLLATE NOCASE, id);
CREATE INDEX idx_voices_created_at ON voices(created_at, id);
CREATE INDEX idx_voices_updated_at ON voices(updated_at, id);
CREATE INDEX idx_voices_number ON voices(number);

-- =============================================================================
-- PRESETS (instrument presets)
-- =============================================================================

CREATE TABLE presets (
    id TEXT PRIMARY KEY NOT NULL,
    instrument_id TEXT NOT NULL REFERENCES instruments(id) ON DELETE CASCADE,
    voice_id TEXT REFERENCES voices(id) ON DELETE SET NULL,  -- a deleted voice keeps its presets
    name TEXT NOT NULL,
    category TEXT,                              -- 'Piano', 'Synth Lead', 'Pad', ...

    -- Preset data
    parameters_json TEXT NOT NULL,
    is_builtin INTEGER NOT NULL DEFAULT 0 CHECK (is_builtin IN (0, 1)),
    is_readonly INTEGER NOT NULL DEFAULT 0 CHECK (is_readonly IN (0, 1)),

    -- Metadata
    description TEXT,
    tags TEXT NOT NULL DEFAULT '[]',            -- JSON array of strings
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),
    author TEXT,

    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1)
) STRICT;

CREATE INDEX idx_presets_instrument_id ON presets(instrument_id, updated_at, id);
CREATE INDEX idx_presets_voice_id ON presets(voice_id);
CREATE INDEX idx_presets_name ON presets(name COLLATE NOCASE, id);
CREATE INDEX idx_presets_created_at ON presets(created_at, id);
CREATE INDEX idx_presets_updated_at ON presets(updated_at, id);
CREATE INDEX idx_presets_category ON presets(category);

CREATE VIRTUAL TABLE presets_fts USING fts5(
    name, category, description, tags, author,
    content = 'presets', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER presets_fts_insert AFTER INSERT ON presets BEGIN
    INSERT INTO presets_fts(rowid, name, category, description, tags, author)
    VALUES (new.rowid, new.name, new.category, new.description, new.tags, new.author);
END;

CREATE TRIGGER presets_fts_delete AFTER DELETE ON presets BEGIN
    INSERT INTO presets_fts(presets_fts, rowid, name, category, description, tags, author)
    VALUES ('delete', old.rowid, old.name, old.category, old.description, old.tags, old.author);
END;

CREATE TRIGGER presets_fts_update AFTER UPDATE OF name, category, description, tags, author ON presets BEGIN
    INSERT INTO presets_fts(presets_fts, rowid, name, category, description, tags, author)
    VALUES ('delete', old.rowid, old.name, old.category, old.description, old.tags, old.author);
    INSERT INTO presets_fts(rowid, name, category, description, tags, author)
    VALUES (new.rowid, new.name, new.category, new.description, new.tags, new.author);
END;

-- =============================================================================
-- AUTOSAVES (auto-save snapshots)
-- =============================================================================

CREATE TABLE autosaves (
    id TEXT PRIMARY KEY NOT NULL,
    song_id TEXT NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    performance_id TEXT REFERENCES performances(id) ON DELETE CASCADE,
    name TEXT NOT NULL,                         -- "Auto-Save 2:34 PM"

    snapshot_json TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1)
) STRICT;

CREATE INDEX idx_autosaves_song_id ON autosaves(song_id, created_at, id);
CREATE INDEX idx_autosaves_performance_id ON autosaves(performance_id);
CREATE INDEX idx_autosaves_created_at ON autosaves(created_at);

-- =============================================================================
-- RECENTLY USED
-- =============================================================================

CREATE TABLE recently_used (
    id TEXT PRIMARY KEY NOT NULL,
    item_type TEXT NOT NULL,                    -- 'song' | 'performance' | 'instrument' | 'voice' | 'preset'
    item_id TEXT NOT NULL,
    item_name TEXT NOT NULL,
    accessed_at INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),

    metadata_json TEXT,

    UNIQUE (item_type, item_id)                 -- one entry per item
) STRICT;

CREATE INDEX idx_recently_used_item_type ON recently_used(item_type, accessed_at);
CREATE INDEX idx_recently_used_accessed_at ON recently_used(accessed_at DESC);

-- =============================================================================
-- METADATA (schema version; PRAGMA user_version is authoritative, this row
-- mirrors it for people reading the file with other tools)
-- =============================================================================

CREATE TABLE metadata (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

INSERT INTO metadata (key, value) VALUES ('schema_version', '1');
