-- =============================================================================
-- 0006_json_columns_hold_json: every JSON column holds compact JSON, whoever writes.
--
-- The sidecar answers a record's structured parts as the text it stored (never
-- parsed and written again), so that text must be JSON, and on one line: a line
-- break in it would end an NDJSON message early. The sidecar only ever stores
-- compact JSON; another program writing the file (a GRDB writer on iOS, the
-- sqlite3 shell) might not. So the file enforces it, for every connection:
--   - <table>_json_insert / <table>_json_update refuse (RAISE ABORT) a row
--     whose JSON column holds text that json_valid does not accept;
--   - <table>_json_compact rewrites, after such a write, a structured part (a
--     *_json column of songs, performances, instruments, presets) holding a
--     line break (CR or LF: in JSON only ever white space between tokens) as
--     json() makes it: white space gone, every string and number kept as written.
-- (Tags and preferences are read as values, never answered as stored.)
-- Rows already in the file: parts with line breaks are made compact; a text
-- that is not JSON (the sidecar could not read its row) is kept in
-- damaged_json, with the row and the column it was in, and the column takes
-- the neutral value of its kind ([] / {} / {"tracks":[]}, or NULL where the
-- column may be NULL), so the row can be read again and nothing is lost.
-- =============================================================================

CREATE TABLE damaged_json (
    id INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL,
    row_id INTEGER NOT NULL,                    -- the rowid of the row in table_name
    column_name TEXT NOT NULL,
    text TEXT,                                  -- the column's text as it was
    found_at INTEGER NOT NULL                   -- ms since the Unix epoch
) STRICT;

-- songs
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'tags', tags, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE tags IS NOT NULL AND NOT json_valid(tags);
UPDATE songs SET tags = '[]' WHERE tags IS NOT NULL AND NOT json_valid(tags);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'realization_policy_json', realization_policy_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE realization_policy_json IS NOT NULL AND NOT json_valid(realization_policy_json);
UPDATE songs SET realization_policy_json = NULL WHERE realization_policy_json IS NOT NULL AND NOT json_valid(realization_policy_json);
UPDATE songs SET realization_policy_json = json(realization_policy_json) WHERE instr(realization_policy_json, char(10)) OR instr(realization_policy_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'sections_json', sections_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE sections_json IS NOT NULL AND NOT json_valid(sections_json);
UPDATE songs SET sections_json = '[]' WHERE sections_json IS NOT NULL AND NOT json_valid(sections_json);
UPDATE songs SET sections_json = json(sections_json) WHERE instr(sections_json, char(10)) OR instr(sections_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'roles_json', roles_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE roles_json IS NOT NULL AND NOT json_valid(roles_json);
UPDATE songs SET roles_json = '[]' WHERE roles_json IS NOT NULL AND NOT json_valid(roles_json);
UPDATE songs SET roles_json = json(roles_json) WHERE instr(roles_json, char(10)) OR instr(roles_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'projections_json', projections_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE projections_json IS NOT NULL AND NOT json_valid(projections_json);
UPDATE songs SET projections_json = '[]' WHERE projections_json IS NOT NULL AND NOT json_valid(projections_json);
UPDATE songs SET projections_json = json(projections_json) WHERE instr(projections_json, char(10)) OR instr(projections_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'mix_graph_json', mix_graph_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE mix_graph_json IS NOT NULL AND NOT json_valid(mix_graph_json);
UPDATE songs SET mix_graph_json = '{"tracks":[]}' WHERE mix_graph_json IS NOT NULL AND NOT json_valid(mix_graph_json);
UPDATE songs SET mix_graph_json = json(mix_graph_json) WHERE instr(mix_graph_json, char(10)) OR instr(mix_graph_json, char(13));
CREATE TRIGGER songs_json_insert BEFORE INSERT ON songs
WHEN (NEW.tags IS NOT NULL AND NOT json_valid(NEW.tags)) OR (NEW.realization_policy_json IS NOT NULL AND NOT json_valid(NEW.realization_policy_json)) OR (NEW.sections_json IS NOT NULL AND NOT json_valid(NEW.sections_json)) OR (NEW.roles_json IS NOT NULL AND NOT json_valid(NEW.roles_json)) OR (NEW.projections_json IS NOT NULL AND NOT json_valid(NEW.projections_json)) OR (NEW.mix_graph_json IS NOT NULL AND NOT json_valid(NEW.mix_graph_json))
BEGIN
    SELECT RAISE(ABORT, 'songs: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER songs_json_update BEFORE UPDATE OF tags, realization_policy_json, sections_json, roles_json, projections_json, mix_graph_json ON songs
WHEN (NEW.tags IS NOT NULL AND NOT json_valid(NEW.tags)) OR (NEW.realization_policy_json IS NOT NULL AND NOT json_valid(NEW.realization_policy_json)) OR (NEW.sections_json IS NOT NULL AND NOT json_valid(NEW.sections_json)) OR (NEW.roles_json IS NOT NULL AND NOT json_valid(NEW.roles_json)) OR (NEW.projections_json IS NOT NULL AND NOT json_valid(NEW.projections_json)) OR (NEW.mix_graph_json IS NOT NULL AND NOT json_valid(NEW.mix_graph_json))
BEGIN
    SELECT RAISE(ABORT, 'songs: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER songs_json_compact AFTER INSERT ON songs
WHEN instr(NEW.realization_policy_json, char(10)) OR instr(NEW.realization_policy_json, char(13)) OR instr(NEW.sections_json, char(10)) OR instr(NEW.sections_json, char(13)) OR instr(NEW.roles_json, char(10)) OR instr(NEW.roles_json, char(13)) OR instr(NEW.projections_json, char(10)) OR instr(NEW.projections_json, char(13)) OR instr(NEW.mix_graph_json, char(10)) OR instr(NEW.mix_graph_json, char(13))
BEGIN
    UPDATE songs SET
        realization_policy_json = CASE WHEN instr(realization_policy_json, char(10)) OR instr(realization_policy_json, char(13)) THEN json(realization_policy_json) ELSE realization_policy_json END,
        sections_json = CASE WHEN instr(sections_json, char(10)) OR instr(sections_json, char(13)) THEN json(sections_json) ELSE sections_json END,
        roles_json = CASE WHEN instr(roles_json, char(10)) OR instr(roles_json, char(13)) THEN json(roles_json) ELSE roles_json END,
        projections_json = CASE WHEN instr(projections_json, char(10)) OR instr(projections_json, char(13)) THEN json(projections_json) ELSE projections_json END,
        mix_graph_json = CASE WHEN instr(mix_graph_json, char(10)) OR instr(mix_graph_json, char(13)) THEN json(mix_graph_json) ELSE mix_graph_json END
    WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER songs_json_compact_update AFTER UPDATE OF realization_policy_json, sections_json, roles_json, projections_json, mix_graph_json ON songs
WHEN instr(NEW.realization_policy_json, char(10)) OR instr(NEW.realization_policy_json, char(13)) OR instr(NEW.sections_json, char(10)) OR instr(NEW.sections_json, char(13)) OR instr(NEW.roles_json, char(10)) OR instr(NEW.roles_json, char(13)) OR instr(NEW.projections_json, char(10)) OR instr(NEW.projections_json, char(13)) OR instr(NEW.mix_graph_json, char(10)) OR instr(NEW.mix_graph_json, char(13))
BEGIN
    UPDATE songs SET
        realization_policy_json = CASE WHEN instr(realization_policy_json, char(10)) OR instr(realization_policy_json, char(13)) THEN json(realization_policy_json) ELSE realization_policy_json END,
        sections_json = CASE WHEN instr(sections_json, char(10)) OR instr(sections_json, char(13)) THEN json(sections_json) ELSE sections_json END,
        roles_json = CASE WHEN instr(roles_json, char(10)) OR instr(roles_json, char(13)) THEN json(roles_json) ELSE roles_json END,
        projections_json = CASE WHEN instr(projections_json, char(10)) OR instr(projections_json, char(13)) THEN json(projections_json) ELSE projections_json END,
        mix_graph_json = CASE WHEN instr(mix_graph_json, char(10)) OR instr(mix_graph_json, char(13)) THEN json(mix_graph_json) ELSE mix_graph_json END
    WHERE rowid = NEW.rowid;
END;

-- performances
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'instrumentation_map_json', instrumentation_map_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE instrumentation_map_json IS NOT NULL AND NOT json_valid(instrumentation_map_json);
UPDATE performances SET instrumentation_map_json = '{}' WHERE instrumentation_map_json IS NOT NULL AND NOT json_valid(instrumentation_map_json);
UPDATE performances SET instrumentation_map_json = json(instrumentation_map_json) WHERE instr(instrumentation_map_json, char(10)) OR instr(instrumentation_map_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'mix_targets_json', mix_targets_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE mix_targets_json IS NOT NULL AND NOT json_valid(mix_targets_json);
UPDATE performances SET mix_targets_json = '{}' WHERE mix_targets_json IS NOT NULL AND NOT json_valid(mix_targets_json);
UPDATE performances SET mix_targets_json = json(mix_targets_json) WHERE instr(mix_targets_json, char(10)) OR instr(mix_targets_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'effects_chains_json', effects_chains_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE effects_chains_json IS NOT NULL AND NOT json_valid(effects_chains_json);
UPDATE performances SET effects_chains_json = NULL WHERE effects_chains_json IS NOT NULL AND NOT json_valid(effects_chains_json);
UPDATE performances SET effects_chains_json = json(effects_chains_json) WHERE instr(effects_chains_json, char(10)) OR instr(effects_chains_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'automation_json', automation_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE automation_json IS NOT NULL AND NOT json_valid(automation_json);
UPDATE performances SET automation_json = NULL WHERE automation_json IS NOT NULL AND NOT json_valid(automation_json);
UPDATE performances SET automation_json = json(automation_json) WHERE instr(automation_json, char(10)) OR instr(automation_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'markers_json', markers_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE markers_json IS NOT NULL AND NOT json_valid(markers_json);
UPDATE performances SET markers_json = NULL WHERE markers_json IS NOT NULL AND NOT json_valid(markers_json);
UPDATE performances SET markers_json = json(markers_json) WHERE instr(markers_json, char(10)) OR instr(markers_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'loop_points_json', loop_points_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE loop_points_json IS NOT NULL AND NOT json_valid(loop_points_json);
UPDATE performances SET loop_points_json = NULL WHERE loop_points_json IS NOT NULL AND NOT json_valid(loop_points_json);
UPDATE performances SET loop_points_json = json(loop_points_json) WHERE instr(loop_points_json, char(10)) OR instr(loop_points_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'tempo_map_json', tempo_map_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE tempo_map_json IS NOT NULL AND NOT json_valid(tempo_map_json);
UPDATE performances SET tempo_map_json = NULL WHERE tempo_map_json IS NOT NULL AND NOT json_valid(tempo_map_json);
UPDATE performances SET tempo_map_json = json(tempo_map_json) WHERE instr(tempo_map_json, char(10)) OR instr(tempo_map_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'time_signature_map_json', time_signature_map_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE time_signature_map_json IS NOT NULL AND NOT json_valid(time_signature_map_json);
UPDATE performances SET time_signature_map_json = NULL WHERE time_signature_map_json IS NOT NULL AND NOT json_valid(time_signature_map_json);
UPDATE performances SET time_signature_map_json = json(time_signature_map_json) WHERE instr(time_signature_map_json, char(10)) OR instr(time_signature_map_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'key_changes_json', key_changes_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE key_changes_json IS NOT NULL AND NOT json_valid(key_changes_json);
UPDATE performances SET key_changes_json = NULL WHERE key_changes_json IS NOT NULL AND NOT json_valid(key_changes_json);
UPDATE performances SET key_changes_json = json(key_changes_json) WHERE instr(key_changes_json, char(10)) OR instr(key_changes_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'sections_json', sections_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE sections_json IS NOT NULL AND NOT json_valid(sections_json);
UPDATE performances SET sections_json = NULL WHERE sections_json IS NOT NULL AND NOT json_valid(sections_json);
UPDATE performances SET sections_json = json(sections_json) WHERE instr(sections_json, char(10)) OR instr(sections_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'metadata_json', metadata_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE metadata_json IS NOT NULL AND NOT json_valid(metadata_json);
UPDATE performances SET metadata_json = NULL WHERE metadata_json IS NOT NULL AND NOT json_valid(metadata_json);
UPDATE performances SET metadata_json = json(metadata_json) WHERE instr(metadata_json, char(10)) OR instr(metadata_json, char(13));
CREATE TRIGGER performances_json_insert BEFORE INSERT ON performances
WHEN (NEW.instrumentation_map_json IS NOT NULL AND NOT json_valid(NEW.instrumentation_map_json)) OR (NEW.mix_targets_json IS NOT NULL AND NOT json_valid(NEW.mix_targets_json)) OR (NEW.effects_chains_json IS NOT NULL AND NOT json_valid(NEW.effects_chains_json)) OR (NEW.automation_json IS NOT NULL AND NOT json_valid(NEW.automation_json)) OR (NEW.markers_json IS NOT NULL AND NOT json_valid(NEW.markers_json)) OR (NEW.loop_points_json IS NOT NULL AND NOT json_valid(NEW.loop_points_json)) OR (NEW.tempo_map_json IS NOT NULL AND NOT json_valid(NEW.tempo_map_json)) OR (NEW.time_signature_map_json IS NOT NULL AND NOT json_valid(NEW.time_signature_map_json)) OR (NEW.key_changes_json IS NOT NULL AND NOT json_valid(NEW.key_changes_json)) OR (NEW.sections_json IS NOT NULL AND NOT json_valid(NEW.sections_json)) OR (NEW.metadata_json IS NOT NULL AND NOT json_valid(NEW.metadata_json))
BEGIN
    SELECT RAISE(ABORT, 'performances: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER performances_json_update BEFORE UPDATE OF instrumentation_map_json, mix_targets_json, effects_chains_json, automation_json, markers_json, loop_points_json, tempo_map_json, time_signature_map_json, key_changes_json, sections_json, metadata_json ON performances
WHEN (NEW.instrumentation_map_json IS NOT NULL AND NOT json_valid(NEW.instrumentation_map_json)) OR (NEW.mix_targets_json IS NOT NULL AND NOT json_valid(NEW.mix_targets_json)) OR (NEW.effects_chains_json IS NOT NULL AND NOT json_valid(NEW.effects_chains_json)) OR (NEW.automation_json IS NOT NULL AND NOT json_valid(NEW.automation_json)) OR (NEW.markers_json IS NOT NULL AND NOT json_valid(NEW.markers_json)) OR (NEW.loop_points_json IS NOT NULL AND NOT json_valid(NEW.loop_points_json)) OR (NEW.tempo_map_json IS NOT NULL AND NOT json_valid(NEW.tempo_map_json)) OR (NEW.time_signature_map_json IS NOT NULL AND NOT json_valid(NEW.time_signature_map_json)) OR (NEW.key_changes_json IS NOT NULL AND NOT json_valid(NEW.key_changes_json)) OR (NEW.sections_json IS NOT NULL AND NOT json_valid(NEW.sections_json)) OR (NEW.metadata_json IS NOT NULL AND NOT json_valid(NEW.metadata_json))
BEGIN
    SELECT RAISE(ABORT, 'performances: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER performances_json_compact AFTER INSERT ON performances
WHEN instr(NEW.instrumentation_map_json, char(10)) OR instr(NEW.instrumentation_map_json, char(13)) OR instr(NEW.mix_targets_json, char(10)) OR instr(NEW.mix_targets_json, char(13)) OR instr(NEW.effects_chains_json, char(10)) OR instr(NEW.effects_chains_json, char(13)) OR instr(NEW.automation_json, char(10)) OR instr(NEW.automation_json, char(13)) OR instr(NEW.markers_json, char(10)) OR instr(NEW.markers_json, char(13)) OR instr(NEW.loop_points_json, char(10)) OR instr(NEW.loop_points_json, char(13)) OR instr(NEW.tempo_map_json, char(10)) OR instr(NEW.tempo_map_json, char(13)) OR instr(NEW.time_signature_map_json, char(10)) OR instr(NEW.time_signature_map_json, char(13)) OR instr(NEW.key_changes_json, char(10)) OR instr(NEW.key_changes_json, char(13)) OR instr(NEW.sections_json, char(10)) OR instr(NEW.sections_json, char(13)) OR instr(NEW.metadata_json, char(10)) OR instr(NEW.metadata_json, char(13))
BEGIN
    UPDATE performances SET
        instrumentation_map_json = CASE WHEN instr(instrumentation_map_json, char(10)) OR instr(instrumentation_map_json, char(13)) THEN json(instrumentation_map_json) ELSE instrumentation_map_json END,
        mix_targets_json = CASE WHEN instr(mix_targets_json, char(10)) OR instr(mix_targets_json, char(13)) THEN json(mix_targets_json) ELSE mix_targets_json END,
        effects_chains_json = CASE WHEN instr(effects_chains_json, char(10)) OR instr(effects_chains_json, char(13)) THEN json(effects_chains_json) ELSE effects_chains_json END,
        automation_json = CASE WHEN instr(automation_json, char(10)) OR instr(automation_json, char(13)) THEN json(automation_json) ELSE automation_json END,
        markers_json = CASE WHEN instr(markers_json, char(10)) OR instr(markers_json, char(13)) THEN json(markers_json) ELSE markers_json END,
        loop_points_json = CASE WHEN instr(loop_points_json, char(10)) OR instr(loop_points_json, char(13)) THEN json(loop_points_json) ELSE loop_points_json END,
        tempo_map_json = CASE WHEN instr(tempo_map_json, char(10)) OR instr(tempo_map_json, char(13)) THEN json(tempo_map_json) ELSE tempo_map_json END,
        time_signature_map_json = CASE WHEN instr(time_signature_map_json, char(10)) OR instr(time_signature_map_json, char(13)) THEN json(time_signature_map_json) ELSE time_signature_map_json END,
        key_changes_json = CASE WHEN instr(key_changes_json, char(10)) OR instr(key_changes_json, char(13)) THEN json(key_changes_json) ELSE key_changes_json END,
        sections_json = CASE WHEN instr(sections_json, char(10)) OR instr(sections_json, char(13)) THEN json(sections_json) ELSE sections_json END,
        metadata_json = CASE WHEN instr(metadata_json, char(10)) OR instr(metadata_json, char(13)) THEN json(metadata_json) ELSE metadata_json END
    WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER performances_json_compact_update AFTER UPDATE OF instrumentation_map_json, mix_targets_json, effects_chains_json, automation_json, markers_json, loop_points_json, tempo_map_json, time_signature_map_json, key_changes_json, sections_json, metadata_json ON performances
WHEN instr(NEW.instrumentation_map_json, char(10)) OR instr(NEW.instrumentation_map_json, char(13)) OR instr(NEW.mix_targets_json, char(10)) OR instr(NEW.mix_targets_json, char(13)) OR instr(NEW.effects_chains_json, char(10)) OR instr(NEW.effects_chains_json, char(13)) OR instr(NEW.automation_json, char(10)) OR instr(NEW.automation_json, char(13)) OR instr(NEW.markers_json, char(10)) OR instr(NEW.markers_json, char(13)) OR instr(NEW.loop_points_json, char(10)) OR instr(NEW.loop_points_json, char(13)) OR instr(NEW.tempo_map_json, char(10)) OR instr(NEW.tempo_map_json, char(13)) OR instr(NEW.time_signature_map_json, char(10)) OR instr(NEW.time_signature_map_json, char(13)) OR instr(NEW.key_changes_json, char(10)) OR instr(NEW.key_changes_json, char(13)) OR instr(NEW.sections_json, char(10)) OR instr(NEW.sections_json, char(13)) OR instr(NEW.metadata_json, char(10)) OR instr(NEW.metadata_json, char(13))
BEGIN
    UPDATE performances SET
        instrumentation_map_json = CASE WHEN instr(instrumentation_map_json, char(10)) OR instr(instrumentation_map_json, char(13)) THEN json(instrumentation_map_json) ELSE instrumentation_map_json END,
        mix_targets_json = CASE WHEN instr(mix_targets_json, char(10)) OR instr(mix_targets_json, char(13)) THEN json(mix_targets_json) ELSE mix_targets_json END,
        effects_chains_json = CASE WHEN instr(effects_chains_json, char(10)) OR instr(effects_chains_json, char(13)) THEN json(effects_chains_json) ELSE effects_chains_json END,
        automation_json = CASE WHEN instr(automation_json, char(10)) OR instr(automation_json, char(13)) THEN json(automation_json) ELSE automation_json END,
        markers_json = CASE WHEN instr(markers_json, char(10)) OR instr(markers_json, char(13)) THEN json(markers_json) ELSE markers_json END,
        loop_points_json = CASE WHEN instr(loop_points_json, char(10)) OR instr(loop_points_json, char(13)) THEN json(loop_points_json) ELSE loop_points_json END,
        tempo_map_json = CASE WHEN instr(tempo_map_json, char(10)) OR instr(tempo_map_json, char(13)) THEN json(tempo_map_json) ELSE tempo_map_json END,
        time_signature_map_json = CASE WHEN instr(time_signature_map_json, char(10)) OR instr(time_signature_map_json, char(13)) THEN json(time_signature_map_json) ELSE time_signature_map_json END,
        key_changes_json = CASE WHEN instr(key_changes_json, char(10)) OR instr(key_changes_json, char(13)) THEN json(key_changes_json) ELSE key_changes_json END,
        sections_json = CASE WHEN instr(sections_json, char(10)) OR instr(sections_json, char(13)) THEN json(sections_json) ELSE sections_json END,
        metadata_json = CASE WHEN instr(metadata_json, char(10)) OR instr(metadata_json, char(13)) THEN json(metadata_json) ELSE metadata_json END
    WHERE rowid = NEW.rowid;
END;

-- instruments
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'instruments', rowid, 'tags', tags, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM instruments WHERE tags IS NOT NULL AND NOT json_valid(tags);
UPDATE instruments SET tags = '[]' WHERE tags IS NOT NULL AND NOT json_valid(tags);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'instruments', rowid, 'custom_data_json', custom_data_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM instruments WHERE custom_data_json IS NOT NULL AND NOT json_valid(custom_data_json);
UPDATE instruments SET custom_data_json = NULL WHERE custom_data_json IS NOT NULL AND NOT json_valid(custom_data_json);
UPDATE instruments SET custom_data_json = json(custom_data_json) WHERE instr(custom_data_json, char(10)) OR instr(custom_data_json, char(13));
CREATE TRIGGER instruments_json_insert BEFORE INSERT ON instruments
WHEN (NEW.tags IS NOT NULL AND NOT json_valid(NEW.tags)) OR (NEW.custom_data_json IS NOT NULL AND NOT json_valid(NEW.custom_data_json))
BEGIN
    SELECT RAISE(ABORT, 'instruments: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER instruments_json_update BEFORE UPDATE OF tags, custom_data_json ON instruments
WHEN (NEW.tags IS NOT NULL AND NOT json_valid(NEW.tags)) OR (NEW.custom_data_json IS NOT NULL AND NOT json_valid(NEW.custom_data_json))
BEGIN
    SELECT RAISE(ABORT, 'instruments: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER instruments_json_compact AFTER INSERT ON instruments
WHEN instr(NEW.custom_data_json, char(10)) OR instr(NEW.custom_data_json, char(13))
BEGIN
    UPDATE instruments SET
        custom_data_json = CASE WHEN instr(custom_data_json, char(10)) OR instr(custom_data_json, char(13)) THEN json(custom_data_json) ELSE custom_data_json END
    WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER instruments_json_compact_update AFTER UPDATE OF custom_data_json ON instruments
WHEN instr(NEW.custom_data_json, char(10)) OR instr(NEW.custom_data_json, char(13))
BEGIN
    UPDATE instruments SET
        custom_data_json = CASE WHEN instr(custom_data_json, char(10)) OR instr(custom_data_json, char(13)) THEN json(custom_data_json) ELSE custom_data_json END
    WHERE rowid = NEW.rowid;
END;

-- presets
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'presets', rowid, 'parameters_json', parameters_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM presets WHERE parameters_json IS NOT NULL AND NOT json_valid(parameters_json);
UPDATE presets SET parameters_json = '{}' WHERE parameters_json IS NOT NULL AND NOT json_valid(parameters_json);
UPDATE presets SET parameters_json = json(parameters_json) WHERE instr(parameters_json, char(10)) OR instr(parameters_json, char(13));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'presets', rowid, 'tags', tags, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM presets WHERE tags IS NOT NULL AND NOT json_valid(tags);
UPDATE presets SET tags = '[]' WHERE tags IS NOT NULL AND NOT json_valid(tags);
CREATE TRIGGER presets_json_insert BEFORE INSERT ON presets
WHEN (NEW.parameters_json IS NOT NULL AND NOT json_valid(NEW.parameters_json)) OR (NEW.tags IS NOT NULL AND NOT json_valid(NEW.tags))
BEGIN
    SELECT RAISE(ABORT, 'presets: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER presets_json_update BEFORE UPDATE OF parameters_json, tags ON presets
WHEN (NEW.parameters_json IS NOT NULL AND NOT json_valid(NEW.parameters_json)) OR (NEW.tags IS NOT NULL AND NOT json_valid(NEW.tags))
BEGIN
    SELECT RAISE(ABORT, 'presets: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER presets_json_compact AFTER INSERT ON presets
WHEN instr(NEW.parameters_json, char(10)) OR instr(NEW.parameters_json, char(13))
BEGIN
    UPDATE presets SET
        parameters_json = CASE WHEN instr(parameters_json, char(10)) OR instr(parameters_json, char(13)) THEN json(parameters_json) ELSE parameters_json END
    WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER presets_json_compact_update AFTER UPDATE OF parameters_json ON presets
WHEN instr(NEW.parameters_json, char(10)) OR instr(NEW.parameters_json, char(13))
BEGIN
    UPDATE presets SET
        parameters_json = CASE WHEN instr(parameters_json, char(10)) OR instr(parameters_json, char(13)) THEN json(parameters_json) ELSE parameters_json END
    WHERE rowid = NEW.rowid;
END;

-- recently_used
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'recently_used', rowid, 'metadata_json', metadata_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM recently_used WHERE metadata_json IS NOT NULL AND NOT json_valid(metadata_json);
UPDATE recently_used SET metadata_json = NULL WHERE metadata_json IS NOT NULL AND NOT json_valid(metadata_json);
CREATE TRIGGER recently_used_json_insert BEFORE INSERT ON recently_used
WHEN (NEW.metadata_json IS NOT NULL AND NOT json_valid(NEW.metadata_json))
BEGIN
    SELECT RAISE(ABORT, 'recently_used: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER recently_used_json_update BEFORE UPDATE OF metadata_json ON recently_used
WHEN (NEW.metadata_json IS NOT NULL AND NOT json_valid(NEW.metadata_json))
BEGIN
    SELECT RAISE(ABORT, 'recently_used: a JSON column holds text that is not JSON');
END;

-- user_preferences
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'midi_input_devices_json', midi_input_devices_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE midi_input_devices_json IS NOT NULL AND NOT json_valid(midi_input_devices_json);
UPDATE user_preferences SET midi_input_devices_json = '[]' WHERE midi_input_devices_json IS NOT NULL AND NOT json_valid(midi_input_devices_json);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'midi_output_devices_json', midi_output_devices_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE midi_output_devices_json IS NOT NULL AND NOT json_valid(midi_output_devices_json);
UPDATE user_preferences SET midi_output_devices_json = '[]' WHERE midi_output_devices_json IS NOT NULL AND NOT json_valid(midi_output_devices_json);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'window_state_json', window_state_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE window_state_json IS NOT NULL AND NOT json_valid(window_state_json);
UPDATE user_preferences SET window_state_json = '{}' WHERE window_state_json IS NOT NULL AND NOT json_valid(window_state_json);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'panel_layout_json', panel_layout_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE panel_layout_json IS NOT NULL AND NOT json_valid(panel_layout_json);
UPDATE user_preferences SET panel_layout_json = '{}' WHERE panel_layout_json IS NOT NULL AND NOT json_valid(panel_layout_json);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'splitter_positions_json', splitter_positions_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE splitter_positions_json IS NOT NULL AND NOT json_valid(splitter_positions_json);
UPDATE user_preferences SET splitter_positions_json = '{}' WHERE splitter_positions_json IS NOT NULL AND NOT json_valid(splitter_positions_json);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'library_folders_json', library_folders_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE library_folders_json IS NOT NULL AND NOT json_valid(library_folders_json);
UPDATE user_preferences SET library_folders_json = '[]' WHERE library_folders_json IS NOT NULL AND NOT json_valid(library_folders_json);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'recent_songs_json', recent_songs_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE recent_songs_json IS NOT NULL AND NOT json_valid(recent_songs_json);
UPDATE user_preferences SET recent_songs_json = '[]' WHERE recent_songs_json IS NOT NULL AND NOT json_valid(recent_songs_json);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'favorite_songs_json', favorite_songs_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE favorite_songs_json IS NOT NULL AND NOT json_valid(favorite_songs_json);
UPDATE user_preferences SET favorite_songs_json = '[]' WHERE favorite_songs_json IS NOT NULL AND NOT json_valid(favorite_songs_json);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'favorite_performances_json', favorite_performances_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE favorite_performances_json IS NOT NULL AND NOT json_valid(favorite_performances_json);
UPDATE user_preferences SET favorite_performances_json = '[]' WHERE favorite_performances_json IS NOT NULL AND NOT json_valid(favorite_performances_json);
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'favorite_instruments_json', favorite_instruments_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE favorite_instruments_json IS NOT NULL AND NOT json_valid(favorite_instruments_json);
UPDATE user_preferences SET favorite_instruments_json = '[]' WHERE favorite_instruments_json IS NOT NULL AND NOT json_valid(favorite_instruments_json);
CREATE TRIGGER user_preferences_json_insert BEFORE INSERT ON user_preferences
WHEN (NEW.midi_input_devices_json IS NOT NULL AND NOT json_valid(NEW.midi_input_devices_json)) OR (NEW.midi_output_devices_json IS NOT NULL AND NOT json_valid(NEW.midi_output_devices_json)) OR (NEW.window_state_json IS NOT NULL AND NOT json_valid(NEW.window_state_json)) OR (NEW.panel_layout_json IS NOT NULL AND NOT json_valid(NEW.panel_layout_json)) OR (NEW.splitter_positions_json IS NOT NULL AND NOT json_valid(NEW.splitter_positions_json)) OR (NEW.library_folders_json IS NOT NULL AND NOT json_valid(NEW.library_folders_json)) OR (NEW.recent_songs_json IS NOT NULL AND NOT json_valid(NEW.recent_songs_json)) OR (NEW.favorite_songs_json IS NOT NULL AND NOT json_valid(NEW.favorite_songs_json)) OR (NEW.favorite_performances_json IS NOT NULL AND NOT json_valid(NEW.favorite_performances_json)) OR (NEW.favorite_instruments_json IS NOT NULL AND NOT json_valid(NEW.favorite_instruments_json))
BEGIN
    SELECT RAISE(ABORT, 'user_preferences: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER user_preferences_json_update BEFORE UPDATE OF midi_input_devices_json, midi_output_devices_json, window_state_json, panel_layout_json, splitter_positions_json, library_folders_json, recent_songs_json, favorite_songs_json, favorite_performances_json, favorite_instruments_json ON user_preferences
WHEN (NEW.midi_input_devices_json IS NOT NULL AND NOT json_valid(NEW.midi_input_devices_json)) OR (NEW.midi_output_devices_json IS NOT NULL AND NOT json_valid(NEW.midi_output_devices_json)) OR (NEW.window_state_json IS NOT NULL AND NOT json_valid(NEW.window_state_json)) OR (NEW.panel_layout_json IS NOT NULL AND NOT json_valid(NEW.panel_layout_json)) OR (NEW.splitter_positions_json IS NOT NULL AND NOT json_valid(NEW.splitter_positions_json)) OR (NEW.library_folders_json IS NOT NULL AND NOT json_valid(NEW.library_folders_json)) OR (NEW.recent_songs_json IS NOT NULL AND NOT json_valid(NEW.recent_songs_json)) OR (NEW.favorite_songs_json IS NOT NULL AND NOT json_valid(NEW.favorite_songs_json)) OR (NEW.favorite_performances_json IS NOT NULL AND NOT json_valid(NEW.favorite_performances_json)) OR (NEW.favorite_instruments_json IS NOT NULL AND NOT json_valid(NEW.favorite_instruments_json))
BEGIN
    SELECT RAISE(ABORT, 'user_preferences: a JSON column holds text that is not JSON');
END;
