-- =============================================================================
-- 0003_name_order_and_folded_search: names sort and search as people read them.
--
-- * Every named entity gets `name_key`, the key `orderBy: "name"` sorts by: case,
--   diacritics and letters such as ł, ø, ß folded, numbers by value (src/text-fold.ts).
--   The index on it replaces the plan's `name COLLATE NOCASE` index, under the plan's
--   name, and ends in `id` so pages stay keyset.
-- * Full-text indexes read folded text. SQLite's unicode61 tokenizer folds case and
--   the diacritics Unicode decomposes, not ł, ø, đ, ß, æ, œ, þ; and it read a tag
--   array as JSON text, so a tag holding a line break was indexed as `\n` glued to the
--   next word. `search_fold_json` holds, for the fields where folding changes the text,
--   the folded text ({"name": "Lodz"}; tags as their words joined by spaces); NULL
--   when nothing needs folding. The `<table>_search` view gives each indexed field as
--   the index reads it, and is the FTS5 external content, so 'rebuild' and
--   'integrity-check' work as before.
-- * Both columns are derived from the row by the store, never trusted from a file:
--   the store computes them on every write and recomputes them all when its folding
--   changes (metadata key `text_fold`) and after a restore. This migration leaves
--   name_key empty; the store fills it right after migrating.
-- * Only built-in SQL functions are used (the store runs with trusted_schema OFF).
-- =============================================================================

ALTER TABLE songs ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
DROP INDEX idx_songs_name;
CREATE INDEX idx_songs_name ON songs(name_key, id);

ALTER TABLE performances ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
DROP INDEX idx_performances_name;
CREATE INDEX idx_performances_name ON performances(name_key, id);

ALTER TABLE instruments ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
DROP INDEX idx_instruments_name;
CREATE INDEX idx_instruments_name ON instruments(name_key, id);

ALTER TABLE voices ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
DROP INDEX idx_voices_name;
CREATE INDEX idx_voices_name ON voices(name_key, id);

ALTER TABLE presets ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
DROP INDEX idx_presets_name;
CREATE INDEX idx_presets_name ON presets(name_key, id);

-- songs: folded full-text search
ALTER TABLE songs ADD COLUMN search_fold_json TEXT;
DROP TRIGGER songs_fts_insert;
DROP TRIGGER songs_fts_delete;
DROP TRIGGER songs_fts_update;
DROP TABLE songs_fts;

CREATE VIEW songs_search (doc, name, composer, genre, mood, tags, comments) AS SELECT rowid,
    coalesce(json_extract(search_fold_json, '$.name'), name),
    coalesce(json_extract(search_fold_json, '$.composer'), composer),
    coalesce(json_extract(search_fold_json, '$.genre'), genre),
    coalesce(json_extract(search_fold_json, '$.mood'), mood),
    coalesce(json_extract(search_fold_json, '$.tags'), tags),
    coalesce(json_extract(search_fold_json, '$.comments'), comments)
FROM songs;

CREATE VIRTUAL TABLE songs_fts USING fts5(
    name, composer, genre, mood, tags, comments,
    content = 'songs_search', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER songs_fts_insert AFTER INSERT ON songs BEGIN
    INSERT INTO songs_fts(rowid, name, composer, genre, mood, tags, comments)
    SELECT doc, name, composer, genre, mood, tags, comments FROM songs_search WHERE doc = new.rowid;
END;

-- The index entry is removed with the values it was made from: read before the row changes.
CREATE TRIGGER songs_fts_delete BEFORE DELETE ON songs BEGIN
    INSERT INTO songs_fts(songs_fts, rowid, name, composer, genre, mood, tags, comments)
    SELECT 'delete', doc, name, composer, genre, mood, tags, comments FROM songs_search WHERE doc = old.rowid;
END;

CREATE TRIGGER songs_fts_update_old BEFORE UPDATE OF name, composer, genre, mood, tags, comments, search_fold_json ON songs BEGIN
    INSERT INTO songs_fts(songs_fts, rowid, name, composer, genre, mood, tags, comments)
    SELECT 'delete', doc, name, composer, genre, mood, tags, comments FROM songs_search WHERE doc = old.rowid;
END;

CREATE TRIGGER songs_fts_update_new AFTER UPDATE OF name, composer, genre, mood, tags, comments, search_fold_json ON songs BEGIN
    INSERT INTO songs_fts(rowid, name, composer, genre, mood, tags, comments)
    SELECT doc, name, composer, genre, mood, tags, comments FROM songs_search WHERE doc = new.rowid;
END;

INSERT INTO songs_fts(songs_fts) VALUES ('rebuild');

-- instruments: folded full-text search
ALTER TABLE instruments ADD COLUMN search_fold_json TEXT;
DROP TRIGGER instruments_fts_insert;
DROP TRIGGER instruments_fts_delete;
DROP TRIGGER instruments_fts_update;
DROP TABLE instruments_fts;

CREATE VIEW instruments_search (doc, name, type, category, manufacturer, description, tags) AS SELECT rowid,
    coalesce(json_extract(search_fold_json, '$.name'), name),
    coalesce(json_extract(search_fold_json, '$.type'), type),
    coalesce(json_extract(search_fold_json, '$.category'), category),
    coalesce(json_extract(search_fold_json, '$.manufacturer'), manufacturer),
    coalesce(json_extract(search_fold_json, '$.description'), description),
    coalesce(json_extract(search_fold_json, '$.tags'), tags)
FROM instruments;

CREATE VIRTUAL TABLE instruments_fts USING fts5(
    name, type, category, manufacturer, description, tags,
    content = 'instruments_search', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER instruments_fts_insert AFTER INSERT ON instruments BEGIN
    INSERT INTO instruments_fts(rowid, name, type, category, manufacturer, description, tags)
    SELECT doc, name, type, category, manufacturer, description, tags FROM instruments_search WHERE doc = new.rowid;
END;

-- The index entry is removed with the values it was made from: read before the row changes.
CREATE TRIGGER instruments_fts_delete BEFORE DELETE ON instruments BEGIN
    INSERT INTO instruments_fts(instruments_fts, rowid, name, type, category, manufacturer, description, tags)
    SELECT 'delete', doc, name, type, category, manufacturer, description, tags FROM instruments_search WHERE doc = old.rowid;
END;

CREATE TRIGGER instruments_fts_update_old BEFORE UPDATE OF name, type, category, manufacturer, description, tags, search_fold_json ON instruments BEGIN
    INSERT INTO instruments_fts(instruments_fts, rowid, name, type, category, manufacturer, description, tags)
    SELECT 'delete', doc, name, type, category, manufacturer, description, tags FROM instruments_search WHERE doc = old.rowid;
END;

CREATE TRIGGER instruments_fts_update_new AFTER UPDATE OF name, type, category, manufacturer, description, tags, search_fold_json ON instruments BEGIN
    INSERT INTO instruments_fts(rowid, name, type, category, manufacturer, description, tags)
    SELECT doc, name, type, category, manufacturer, description, tags FROM instruments_search WHERE doc = new.rowid;
END;

INSERT INTO instruments_fts(instruments_fts) VALUES ('rebuild');

-- presets: folded full-text search
ALTER TABLE presets ADD COLUMN search_fold_json TEXT;
DROP TRIGGER presets_fts_insert;
DROP TRIGGER presets_fts_delete;
DROP TRIGGER presets_fts_update;
DROP TABLE presets_fts;

CREATE VIEW presets_search (doc, name, category, description, tags, author) AS SELECT rowid,
    coalesce(json_extract(search_fold_json, '$.name'), name),
    coalesce(json_extract(search_fold_json, '$.category'), category),
    coalesce(json_extract(search_fold_json, '$.description'), description),
    coalesce(json_extract(search_fold_json, '$.tags'), tags),
    coalesce(json_extract(search_fold_json, '$.author'), author)
FROM presets;

CREATE VIRTUAL TABLE presets_fts USING fts5(
    name, category, description, tags, author,
    content = 'presets_search', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER presets_fts_insert AFTER INSERT ON presets BEGIN
    INSERT INTO presets_fts(rowid, name, category, description, tags, author)
    SELECT doc, name, category, description, tags, author FROM presets_search WHERE doc = new.rowid;
END;

-- The index entry is removed with the values it was made from: read before the row changes.
CREATE TRIGGER presets_fts_delete BEFORE DELETE ON presets BEGIN
    INSERT INTO presets_fts(presets_fts, rowid, name, category, description, tags, author)
    SELECT 'delete', doc, name, category, description, tags, author FROM presets_search WHERE doc = old.rowid;
END;

CREATE TRIGGER presets_fts_update_old BEFORE UPDATE OF name, category, description, tags, author, search_fold_json ON presets BEGIN
    INSERT INTO presets_fts(presets_fts, rowid, name, category, description, tags, author)
    SELECT 'delete', doc, name, category, description, tags, author FROM presets_search WHERE doc = old.rowid;
END;

CREATE TRIGGER presets_fts_update_new AFTER UPDATE OF name, category, description, tags, author, search_fold_json ON presets BEGIN
    INSERT INTO presets_fts(rowid, name, category, description, tags, author)
    SELECT doc, name, category, description, tags, author FROM presets_search WHERE doc = new.rowid;
END;

INSERT INTO presets_fts(presets_fts) VALUES ('rebuild');
