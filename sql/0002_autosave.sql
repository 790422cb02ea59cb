-- =============================================================================
-- 0002_autosave: staged autosave state, and what the autosave family reports.
--
-- The host stages the live state of a song (or of one of its performances) on
-- every edit; the sidecar promotes it to an `autosaves` snapshot after a quiet
-- period, periodically and at shutdown. A staged row is committed before the
-- stage is answered, so a crash a moment later loses nothing: at the next start
-- the row becomes a snapshot marked `recovered`.
-- =============================================================================

CREATE TABLE autosave_staging (
    scope TEXT PRIMARY KEY NOT NULL,            -- song id, or song id + '/' + performance id
    song_id TEXT NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    performance_id TEXT REFERENCES performances(id) ON DELETE CASCADE,
    -- The snapshot as JSON ('snapshot'), or the autosave.stage request exactly as it
    -- arrived ('request'), whose params.snapshot is the snapshot: storing the text
    -- received spares serialising a large state again on every edit.
    body TEXT NOT NULL,
    body_kind TEXT NOT NULL CHECK (body_kind IN ('snapshot', 'request')),
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    staged_at INTEGER NOT NULL                  -- ms since the Unix epoch
) STRICT;

CREATE INDEX idx_autosave_staging_song_id ON autosave_staging(song_id);
CREATE INDEX idx_autosave_staging_performance_id ON autosave_staging(performance_id);

-- Size of the snapshot in bytes (listed without reading the bodies), whether it
-- was recovered at start from a state that was staged but never promoted, and
-- what made it.
ALTER TABLE autosaves ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0);
ALTER TABLE autosaves ADD COLUMN recovered INTEGER NOT NULL DEFAULT 0 CHECK (recovered IN (0, 1));
ALTER TABLE autosaves ADD COLUMN reason TEXT NOT NULL DEFAULT 'interval'
    CHECK (reason IN ('debounce', 'interval', 'flush', 'shutdown', 'recovery', 'pre-restore'));

UPDATE autosaves SET size_bytes = length(CAST(snapshot_json AS BLOB));

CREATE INDEX idx_autosaves_recovered ON autosaves(created_at, id) WHERE recovered = 1;
