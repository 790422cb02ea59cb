-- =============================================================================
-- 0005_history: every committed state of a song or performance is a version;
-- deleted records go to the trash; autosave snapshots and versions share one
-- store of parts (src/store/parts.ts, src/store/history.ts).
--
-- After this file, the store's step for version 5 (src/store/migrations.ts), in
-- the same transaction: moves each autosave snapshot from autosaves_old into
-- the part store, drops autosaves_old, and records the current state of every
-- song and performance as its first version.
-- =============================================================================

-- One node of a stored JSON text: its compact text with references to other
-- nodes (U+0001 and a hash), deflated when that is smaller. Keyed by the SHA-256
-- of the text (hex). `refs` counts the references from other nodes (read from
-- their texts) and from the holders below; a node at 0 is removed before the
-- transaction commits.
-- A rowid table, not WITHOUT ROWID: nodes are 100 bytes to 16 KB, and rows that
-- large waste most of a page each in an index b-tree (measured: 4x the bodies).
CREATE TABLE parts (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64),
    body BLOB NOT NULL,
    deflated INTEGER NOT NULL CHECK (deflated IN (0, 1)),
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),   -- of the text, not deflated
    refs INTEGER NOT NULL CHECK (refs >= 0)
) STRICT;

CREATE INDEX idx_parts_unreferenced ON parts(id) WHERE refs = 0;

-- A version: one committed state of a record. `seq` orders every version of the
-- file (a change feed: never reused); `manifest_json` maps each part of the
-- record ("fields" for the scalar fields, then one per structured part) to the
-- hash of its root node. No foreign key to the record: history outlives it.
CREATE TABLE versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    entity TEXT NOT NULL CHECK (entity IN ('songs', 'performances')),
    entity_id TEXT NOT NULL,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    created_at INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('save', 'autosave', 'restore', 'import', 'delete')),
    label TEXT,
    pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    device_id TEXT NOT NULL,
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),   -- the record's JSON text
    manifest_json TEXT NOT NULL
) STRICT;

CREATE INDEX idx_versions_entity ON versions(entity, entity_id, seq);
CREATE INDEX idx_versions_thinning ON versions(entity, entity_id, created_at) WHERE pinned = 0;

CREATE TRIGGER versions_parts_ref AFTER INSERT ON versions BEGIN
    UPDATE parts SET refs = refs + 1 WHERE hash IN (SELECT value FROM json_each(new.manifest_json));
END;

CREATE TRIGGER versions_parts_unref AFTER DELETE ON versions BEGIN
    UPDATE parts SET refs = refs - 1 WHERE hash IN (SELECT value FROM json_each(old.manifest_json));
END;

-- Deleted records: their last state is the `delete` version named here. A
-- performance deleted with its song names the song (`with_song_id`): restoring
-- the song brings it back too.
CREATE TABLE trash (
    entity TEXT NOT NULL CHECK (entity IN ('songs', 'performances')),
    entity_id TEXT NOT NULL,
    name TEXT NOT NULL,
    song_id TEXT,                                          -- a performance's song
    with_song_id TEXT,                                     -- deleted by the delete of this song
    deleted_at INTEGER NOT NULL,
    version_id TEXT NOT NULL REFERENCES versions(id),
    PRIMARY KEY (entity, entity_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX idx_trash_deleted_at ON trash(deleted_at);
CREATE INDEX idx_trash_with_song ON trash(with_song_id) WHERE with_song_id IS NOT NULL;

-- Trash older than this many days is emptied (history.configure and
-- preferences.update change it).
ALTER TABLE user_preferences ADD COLUMN trash_retention_days INTEGER NOT NULL DEFAULT 30
    CHECK (trash_retention_days BETWEEN 1 AND 3650);

-- Autosave snapshots keep their song, performance and state in the part store:
-- `manifest_json` maps "song.<part>", "performance.<part>" and "state" to hashes.
DROP INDEX idx_autosaves_song_id;
DROP INDEX idx_autosaves_performance_id;
DROP INDEX idx_autosaves_created_at;
DROP INDEX idx_autosaves_recovered;
ALTER TABLE autosaves RENAME TO autosaves_old;

CREATE TABLE autosaves (
    id TEXT PRIMARY KEY NOT NULL,
    song_id TEXT NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    performance_id TEXT REFERENCES performances(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    size_bytes INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    recovered INTEGER NOT NULL DEFAULT 0 CHECK (recovered IN (0, 1)),
    reason TEXT NOT NULL DEFAULT 'interval'
        CHECK (reason IN ('debounce', 'interval', 'flush', 'shutdown', 'recovery', 'pre-restore'))
) STRICT;

CREATE INDEX idx_autosaves_song_id ON autosaves(song_id, created_at, id);
CREATE INDEX idx_autosaves_performance_id ON autosaves(performance_id);
CREATE INDEX idx_autosaves_created_at ON autosaves(created_at);
CREATE INDEX idx_autosaves_recovered ON autosaves(created_at, id) WHERE recovered = 1;

CREATE TRIGGER autosaves_parts_ref AFTER INSERT ON autosaves BEGIN
    UPDATE parts SET refs = refs + 1 WHERE hash IN (SELECT value FROM json_each(new.manifest_json));
END;

CREATE TRIGGER autosaves_parts_unref AFTER DELETE ON autosaves BEGIN
    UPDATE parts SET refs = refs - 1 WHERE hash IN (SELECT value FROM json_each(old.manifest_json));
END;
