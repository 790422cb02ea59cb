-- =============================================================================
-- 0007_json_columns_without_nul: a JSON column holds no NUL character.
--
-- SQLite's json_valid reads a text only up to its first NUL character, so a
-- text like `[{"a":1}]<NUL>junk`, written by another program, passed 0006's
-- triggers; the sidecar answers structured parts as stored, and the NUL and
-- what follows it went out on the wire, where no JSON parser takes them.
--   - <table>_json_insert / <table>_json_update (made by 0006) are made again
--     refusing also a text whose bytes hold a NUL: instr(CAST(x AS BLOB), x'00')
--     looks at every byte of the text, past any NUL.
--   - Rows already in the file with such a text, or with a text json_valid does
--     not accept (written since 0006 by an older SQLite whose json_valid took
--     deeper nesting), are mended as 0006 mends them: the text is kept in
--     damaged_json with its row and column, and the column takes the neutral
--     value of its kind, so the row can be read again and nothing is lost.
-- The AFTER triggers that make structured parts compact are unchanged.
-- =============================================================================

-- songs
DROP TRIGGER songs_json_insert;
DROP TRIGGER songs_json_update;
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'tags', tags, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE (tags IS NOT NULL AND (NOT json_valid(tags) OR instr(CAST(tags AS BLOB), x'00')));
UPDATE songs SET tags = '[]' WHERE (tags IS NOT NULL AND (NOT json_valid(tags) OR instr(CAST(tags AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'realization_policy_json', realization_policy_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE (realization_policy_json IS NOT NULL AND (NOT json_valid(realization_policy_json) OR instr(CAST(realization_policy_json AS BLOB), x'00')));
UPDATE songs SET realization_policy_json = NULL WHERE (realization_policy_json IS NOT NULL AND (NOT json_valid(realization_policy_json) OR instr(CAST(realization_policy_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'sections_json', sections_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE (sections_json IS NOT NULL AND (NOT json_valid(sections_json) OR instr(CAST(sections_json AS BLOB), x'00')));
UPDATE songs SET sections_json = '[]' WHERE (sections_json IS NOT NULL AND (NOT json_valid(sections_json) OR instr(CAST(sections_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'roles_json', roles_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE (roles_json IS NOT NULL AND (NOT json_valid(roles_json) OR instr(CAST(roles_json AS BLOB), x'00')));
UPDATE songs SET roles_json = '[]' WHERE (roles_json IS NOT NULL AND (NOT json_valid(roles_json) OR instr(CAST(roles_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'projections_json', projections_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE (projections_json IS NOT NULL AND (NOT json_valid(projections_json) OR instr(CAST(projections_json AS BLOB), x'00')));
UPDATE songs SET projections_json = '[]' WHERE (projections_json IS NOT NULL AND (NOT json_valid(projections_json) OR instr(CAST(projections_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'songs', rowid, 'mix_graph_json', mix_graph_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM songs WHERE (mix_graph_json IS NOT NULL AND (NOT json_valid(mix_graph_json) OR instr(CAST(mix_graph_json AS BLOB), x'00')));
UPDATE songs SET mix_graph_json = '{"tracks":[]}' WHERE (mix_graph_json IS NOT NULL AND (NOT json_valid(mix_graph_json) OR instr(CAST(mix_graph_json AS BLOB), x'00')));
CREATE TRIGGER songs_json_insert BEFORE INSERT ON songs
WHEN (NEW.tags IS NOT NULL AND (NOT json_valid(NEW.tags) OR instr(CAST(NEW.tags AS BLOB), x'00'))) OR (NEW.realization_policy_json IS NOT NULL AND (NOT json_valid(NEW.realization_policy_json) OR instr(CAST(NEW.realization_policy_json AS BLOB), x'00'))) OR (NEW.sections_json IS NOT NULL AND (NOT json_valid(NEW.sections_json) OR instr(CAST(NEW.sections_json AS BLOB), x'00'))) OR (NEW.roles_json IS NOT NULL AND (NOT json_valid(NEW.roles_json) OR instr(CAST(NEW.roles_json AS BLOB), x'00'))) OR (NEW.projections_json IS NOT NULL AND (NOT json_valid(NEW.projections_json) OR instr(CAST(NEW.projections_json AS BLOB), x'00'))) OR (NEW.mix_graph_json IS NOT NULL AND (NOT json_valid(NEW.mix_graph_json) OR instr(CAST(NEW.mix_graph_json AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'songs: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER songs_json_update BEFORE UPDATE OF tags, realization_policy_json, sections_json, roles_json, projections_json, mix_graph_json ON songs
WHEN (NEW.tags IS NOT NULL AND (NOT json_valid(NEW.tags) OR instr(CAST(NEW.tags AS BLOB), x'00'))) OR (NEW.realization_policy_json IS NOT NULL AND (NOT json_valid(NEW.realization_policy_json) OR instr(CAST(NEW.realization_policy_json AS BLOB), x'00'))) OR (NEW.sections_json IS NOT NULL AND (NOT json_valid(NEW.sections_json) OR instr(CAST(NEW.sections_json AS BLOB), x'00'))) OR (NEW.roles_json IS NOT NULL AND (NOT json_valid(NEW.roles_json) OR instr(CAST(NEW.roles_json AS BLOB), x'00'))) OR (NEW.projections_json IS NOT NULL AND (NOT json_valid(NEW.projections_json) OR instr(CAST(NEW.projections_json AS BLOB), x'00'))) OR (NEW.mix_graph_json IS NOT NULL AND (NOT json_valid(NEW.mix_graph_json) OR instr(CAST(NEW.mix_graph_json AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'songs: a JSON column holds text that is not JSON');
END;

-- performances
DROP TRIGGER performances_json_insert;
DROP TRIGGER performances_json_update;
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'instrumentation_map_json', instrumentation_map_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (instrumentation_map_json IS NOT NULL AND (NOT json_valid(instrumentation_map_json) OR instr(CAST(instrumentation_map_json AS BLOB), x'00')));
UPDATE performances SET instrumentation_map_json = '{}' WHERE (instrumentation_map_json IS NOT NULL AND (NOT json_valid(instrumentation_map_json) OR instr(CAST(instrumentation_map_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'mix_targets_json', mix_targets_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (mix_targets_json IS NOT NULL AND (NOT json_valid(mix_targets_json) OR instr(CAST(mix_targets_json AS BLOB), x'00')));
UPDATE performances SET mix_targets_json = '{}' WHERE (mix_targets_json IS NOT NULL AND (NOT json_valid(mix_targets_json) OR instr(CAST(mix_targets_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'effects_chains_json', effects_chains_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (effects_chains_json IS NOT NULL AND (NOT json_valid(effects_chains_json) OR instr(CAST(effects_chains_json AS BLOB), x'00')));
UPDATE performances SET effects_chains_json = NULL WHERE (effects_chains_json IS NOT NULL AND (NOT json_valid(effects_chains_json) OR instr(CAST(effects_chains_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'automation_json', automation_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (automation_json IS NOT NULL AND (NOT json_valid(automation_json) OR instr(CAST(automation_json AS BLOB), x'00')));
UPDATE performances SET automation_json = NULL WHERE (automation_json IS NOT NULL AND (NOT json_valid(automation_json) OR instr(CAST(automation_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'markers_json', markers_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (markers_json IS NOT NULL AND (NOT json_valid(markers_json) OR instr(CAST(markers_json AS BLOB), x'00')));
UPDATE performances SET markers_json = NULL WHERE (markers_json IS NOT NULL AND (NOT json_valid(markers_json) OR instr(CAST(markers_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'loop_points_json', loop_points_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (loop_points_json IS NOT NULL AND (NOT json_valid(loop_points_json) OR instr(CAST(loop_points_json AS BLOB), x'00')));
UPDATE performances SET loop_points_json = NULL WHERE (loop_points_json IS NOT NULL AND (NOT json_valid(loop_points_json) OR instr(CAST(loop_points_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'tempo_map_json', tempo_map_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (tempo_map_json IS NOT NULL AND (NOT json_valid(tempo_map_json) OR instr(CAST(tempo_map_json AS BLOB), x'00')));
UPDATE performances SET tempo_map_json = NULL WHERE (tempo_map_json IS NOT NULL AND (NOT json_valid(tempo_map_json) OR instr(CAST(tempo_map_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'time_signature_map_json', time_signature_map_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (time_signature_map_json IS NOT NULL AND (NOT json_valid(time_signature_map_json) OR instr(CAST(time_signature_map_json AS BLOB), x'00')));
UPDATE performances SET time_signature_map_json = NULL WHERE (time_signature_map_json IS NOT NULL AND (NOT json_valid(time_signature_map_json) OR instr(CAST(time_signature_map_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'key_changes_json', key_changes_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (key_changes_json IS NOT NULL AND (NOT json_valid(key_changes_json) OR instr(CAST(key_changes_json AS BLOB), x'00')));
UPDATE performances SET key_changes_json = NULL WHERE (key_changes_json IS NOT NULL AND (NOT json_valid(key_changes_json) OR instr(CAST(key_changes_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'sections_json', sections_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (sections_json IS NOT NULL AND (NOT json_valid(sections_json) OR instr(CAST(sections_json AS BLOB), x'00')));
UPDATE performances SET sections_json = NULL WHERE (sections_json IS NOT NULL AND (NOT json_valid(sections_json) OR instr(CAST(sections_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'performances', rowid, 'metadata_json', metadata_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM performances WHERE (metadata_json IS NOT NULL AND (NOT json_valid(metadata_json) OR instr(CAST(metadata_json AS BLOB), x'00')));
UPDATE performances SET metadata_json = NULL WHERE (metadata_json IS NOT NULL AND (NOT json_valid(metadata_json) OR instr(CAST(metadata_json AS BLOB), x'00')));
CREATE TRIGGER performances_json_insert BEFORE INSERT ON performances
WHEN (NEW.instrumentation_map_json IS NOT NULL AND (NOT json_valid(NEW.instrumentation_map_json) OR instr(CAST(NEW.instrumentation_map_json AS BLOB), x'00'))) OR (NEW.mix_targets_json IS NOT NULL AND (NOT json_valid(NEW.mix_targets_json) OR instr(CAST(NEW.mix_targets_json AS BLOB), x'00'))) OR (NEW.effects_chains_json IS NOT NULL AND (NOT json_valid(NEW.effects_chains_json) OR instr(CAST(NEW.effects_chains_json AS BLOB), x'00'))) OR (NEW.automation_json IS NOT NULL AND (NOT json_valid(NEW.automation_json) OR instr(CAST(NEW.automation_json AS BLOB), x'00'))) OR (NEW.markers_json IS NOT NULL AND (NOT json_valid(NEW.markers_json) OR instr(CAST(NEW.markers_json AS BLOB), x'00'))) OR (NEW.loop_points_json IS NOT NULL AND (NOT json_valid(NEW.loop_points_json) OR instr(CAST(NEW.loop_points_json AS BLOB), x'00'))) OR (NEW.tempo_map_json IS NOT NULL AND (NOT json_valid(NEW.tempo_map_json) OR instr(CAST(NEW.tempo_map_json AS BLOB), x'00'))) OR (NEW.time_signature_map_json IS NOT NULL AND (NOT json_valid(NEW.time_signature_map_json) OR instr(CAST(NEW.time_signature_map_json AS BLOB), x'00'))) OR (NEW.key_changes_json IS NOT NULL AND (NOT json_valid(NEW.key_changes_json) OR instr(CAST(NEW.key_changes_json AS BLOB), x'00'))) OR (NEW.sections_json IS NOT NULL AND (NOT json_valid(NEW.sections_json) OR instr(CAST(NEW.sections_json AS BLOB), x'00'))) OR (NEW.metadata_json IS NOT NULL AND (NOT json_valid(NEW.metadata_json) OR instr(CAST(NEW.metadata_json AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'performances: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER performances_json_update BEFORE UPDATE OF instrumentation_map_json, mix_targets_json, effects_chains_json, automation_json, markers_json, loop_points_json, tempo_map_json, time_signature_map_json, key_changes_json, sections_json, metadata_json ON performances
WHEN (NEW.instrumentation_map_json IS NOT NULL AND (NOT json_valid(NEW.instrumentation_map_json) OR instr(CAST(NEW.instrumentation_map_json AS BLOB), x'00'))) OR (NEW.mix_targets_json IS NOT NULL AND (NOT json_valid(NEW.mix_targets_json) OR instr(CAST(NEW.mix_targets_json AS BLOB), x'00'))) OR (NEW.effects_chains_json IS NOT NULL AND (NOT json_valid(NEW.effects_chains_json) OR instr(CAST(NEW.effects_chains_json AS BLOB), x'00'))) OR (NEW.automation_json IS NOT NULL AND (NOT json_valid(NEW.automation_json) OR instr(CAST(NEW.automation_json AS BLOB), x'00'))) OR (NEW.markers_json IS NOT NULL AND (NOT json_valid(NEW.markers_json) OR instr(CAST(NEW.markers_json AS BLOB), x'00'))) OR (NEW.loop_points_json IS NOT NULL AND (NOT json_valid(NEW.loop_points_json) OR instr(CAST(NEW.loop_points_json AS BLOB), x'00'))) OR (NEW.tempo_map_json IS NOT NULL AND (NOT json_valid(NEW.tempo_map_json) OR instr(CAST(NEW.tempo_map_json AS BLOB), x'00'))) OR (NEW.time_signature_map_json IS NOT NULL AND (NOT json_valid(NEW.time_signature_map_json) OR instr(CAST(NEW.time_signature_map_json AS BLOB), x'00'))) OR (NEW.key_changes_json IS NOT NULL AND (NOT json_valid(NEW.key_changes_json) OR instr(CAST(NEW.key_changes_json AS BLOB), x'00'))) OR (NEW.sections_json IS NOT NULL AND (NOT json_valid(NEW.sections_json) OR instr(CAST(NEW.sections_json AS BLOB), x'00'))) OR (NEW.metadata_json IS NOT NULL AND (NOT json_valid(NEW.metadata_json) OR instr(CAST(NEW.metadata_json AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'performances: a JSON column holds text that is not JSON');
END;

-- instruments
DROP TRIGGER instruments_json_insert;
DROP TRIGGER instruments_json_update;
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'instruments', rowid, 'tags', tags, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM instruments WHERE (tags IS NOT NULL AND (NOT json_valid(tags) OR instr(CAST(tags AS BLOB), x'00')));
UPDATE instruments SET tags = '[]' WHERE (tags IS NOT NULL AND (NOT json_valid(tags) OR instr(CAST(tags AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'instruments', rowid, 'custom_data_json', custom_data_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM instruments WHERE (custom_data_json IS NOT NULL AND (NOT json_valid(custom_data_json) OR instr(CAST(custom_data_json AS BLOB), x'00')));
UPDATE instruments SET custom_data_json = NULL WHERE (custom_data_json IS NOT NULL AND (NOT json_valid(custom_data_json) OR instr(CAST(custom_data_json AS BLOB), x'00')));
CREATE TRIGGER instruments_json_insert BEFORE INSERT ON instruments
WHEN (NEW.tags IS NOT NULL AND (NOT json_valid(NEW.tags) OR instr(CAST(NEW.tags AS BLOB), x'00'))) OR (NEW.custom_data_json IS NOT NULL AND (NOT json_valid(NEW.custom_data_json) OR instr(CAST(NEW.custom_data_json AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'instruments: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER instruments_json_update BEFORE UPDATE OF tags, custom_data_json ON instruments
WHEN (NEW.tags IS NOT NULL AND (NOT json_valid(NEW.tags) OR instr(CAST(NEW.tags AS BLOB), x'00'))) OR (NEW.custom_data_json IS NOT NULL AND (NOT json_valid(NEW.custom_data_json) OR instr(CAST(NEW.custom_data_json AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'instruments: a JSON column holds text that is not JSON');
END;

-- presets
DROP TRIGGER presets_json_insert;
DROP TRIGGER presets_json_update;
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'presets', rowid, 'parameters_json', parameters_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM presets WHERE (parameters_json IS NOT NULL AND (NOT json_valid(parameters_json) OR instr(CAST(parameters_json AS BLOB), x'00')));
UPDATE presets SET parameters_json = '{}' WHERE (parameters_json IS NOT NULL AND (NOT json_valid(parameters_json) OR instr(CAST(parameters_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'presets', rowid, 'tags', tags, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM presets WHERE (tags IS NOT NULL AND (NOT json_valid(tags) OR instr(CAST(tags AS BLOB), x'00')));
UPDATE presets SET tags = '[]' WHERE (tags IS NOT NULL AND (NOT json_valid(tags) OR instr(CAST(tags AS BLOB), x'00')));
CREATE TRIGGER presets_json_insert BEFORE INSERT ON presets
WHEN (NEW.parameters_json IS NOT NULL AND (NOT json_valid(NEW.parameters_json) OR instr(CAST(NEW.parameters_json AS BLOB), x'00'))) OR (NEW.tags IS NOT NULL AND (NOT json_valid(NEW.tags) OR instr(CAST(NEW.tags AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'presets: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER presets_json_update BEFORE UPDATE OF parameters_json, tags ON presets
WHEN (NEW.parameters_json IS NOT NULL AND (NOT json_valid(NEW.parameters_json) OR instr(CAST(NEW.parameters_json AS BLOB), x'00'))) OR (NEW.tags IS NOT NULL AND (NOT json_valid(NEW.tags) OR instr(CAST(NEW.tags AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'presets: a JSON column holds text that is not JSON');
END;

-- recently_used
DROP TRIGGER recently_used_json_insert;
DROP TRIGGER recently_used_json_update;
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'recently_used', rowid, 'metadata_json', metadata_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM recently_used WHERE (metadata_json IS NOT NULL AND (NOT json_valid(metadata_json) OR instr(CAST(metadata_json AS BLOB), x'00')));
UPDATE recently_used SET metadata_json = NULL WHERE (metadata_json IS NOT NULL AND (NOT json_valid(metadata_json) OR instr(CAST(metadata_json AS BLOB), x'00')));
CREATE TRIGGER recently_used_json_insert BEFORE INSERT ON recently_used
WHEN (NEW.metadata_json IS NOT NULL AND (NOT json_valid(NEW.metadata_json) OR instr(CAST(NEW.metadata_json AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'recently_used: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER recently_used_json_update BEFORE UPDATE OF metadata_json ON recently_used
WHEN (NEW.metadata_json IS NOT NULL AND (NOT json_valid(NEW.metadata_json) OR instr(CAST(NEW.metadata_json AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'recently_used: a JSON column holds text that is not JSON');
END;

-- user_preferences
DROP TRIGGER user_preferences_json_insert;
DROP TRIGGER user_preferences_json_update;
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'midi_input_devices_json', midi_input_devices_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE (midi_input_devices_json IS NOT NULL AND (NOT json_valid(midi_input_devices_json) OR instr(CAST(midi_input_devices_json AS BLOB), x'00')));
UPDATE user_preferences SET midi_input_devices_json = '[]' WHERE (midi_input_devices_json IS NOT NULL AND (NOT json_valid(midi_input_devices_json) OR instr(CAST(midi_input_devices_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'midi_output_devices_json', midi_output_devices_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE (midi_output_devices_json IS NOT NULL AND (NOT json_valid(midi_output_devices_json) OR instr(CAST(midi_output_devices_json AS BLOB), x'00')));
UPDATE user_preferences SET midi_output_devices_json = '[]' WHERE (midi_output_devices_json IS NOT NULL AND (NOT json_valid(midi_output_devices_json) OR instr(CAST(midi_output_devices_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'window_state_json', window_state_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE (window_state_json IS NOT NULL AND (NOT json_valid(window_state_json) OR instr(CAST(window_state_json AS BLOB), x'00')));
UPDATE user_preferences SET window_state_json = '{}' WHERE (window_state_json IS NOT NULL AND (NOT json_valid(window_state_json) OR instr(CAST(window_state_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'panel_layout_json', panel_layout_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE (panel_layout_json IS NOT NULL AND (NOT json_valid(panel_layout_json) OR instr(CAST(panel_layout_json AS BLOB), x'00')));
UPDATE user_preferences SET panel_layout_json = '{}' WHERE (panel_layout_json IS NOT NULL AND (NOT json_valid(panel_layout_json) OR instr(CAST(panel_layout_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'splitter_positions_json', splitter_positions_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE (splitter_positions_json IS NOT NULL AND (NOT json_valid(splitter_positions_json) OR instr(CAST(splitter_positions_json AS BLOB), x'00')));
UPDATE user_preferences SET splitter_positions_json = '{}' WHERE (splitter_positions_json IS NOT NULL AND (NOT json_valid(splitter_positions_json) OR instr(CAST(splitter_positions_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'library_folders_json', library_folders_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE (library_folders_json IS NOT NULL AND (NOT json_valid(library_folders_json) OR instr(CAST(library_folders_json AS BLOB), x'00')));
UPDATE user_preferences SET library_folders_json = '[]' WHERE (library_folders_json IS NOT NULL AND (NOT json_valid(library_folders_json) OR instr(CAST(library_folders_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'recent_songs_json', recent_songs_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE (recent_songs_json IS NOT NULL AND (NOT json_valid(recent_songs_json) OR instr(CAST(recent_songs_json AS BLOB), x'00')));
UPDATE user_preferences SET recent_songs_json = '[]' WHERE (recent_songs_json IS NOT NULL AND (NOT json_valid(recent_songs_json) OR instr(CAST(recent_songs_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'favorite_songs_json', favorite_songs_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE (favorite_songs_json IS NOT NULL AND (NOT json_valid(favorite_songs_json) OR instr(CAST(favorite_songs_json AS BLOB), x'00')));
UPDATE user_preferences SET favorite_songs_json = '[]' WHERE (favorite_songs_json IS NOT NULL AND (NOT json_valid(favorite_songs_json) OR instr(CAST(favorite_songs_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'favorite_performances_json', favorite_performances_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE (favorite_performances_json IS NOT NULL AND (NOT json_valid(favorite_performances_json) OR instr(CAST(favorite_performances_json AS BLOB), x'00')));
UPDATE user_preferences SET favorite_performances_json = '[]' WHERE (favorite_performances_json IS NOT NULL AND (NOT json_valid(favorite_performances_json) OR instr(CAST(favorite_performances_json AS BLOB), x'00')));
INSERT INTO damaged_json (table_name, row_id, column_name, text, found_at)
    SELECT 'user_preferences', rowid, 'favorite_instruments_json', favorite_instruments_json, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM user_preferences WHERE (favorite_instruments_json IS NOT NULL AND (NOT json_valid(favorite_instruments_json) OR instr(CAST(favorite_instruments_json AS BLOB), x'00')));
UPDATE user_preferences SET favorite_instruments_json = '[]' WHERE (favorite_instruments_json IS NOT NULL AND (NOT json_valid(favorite_instruments_json) OR instr(CAST(favorite_instruments_json AS BLOB), x'00')));
CREATE TRIGGER user_preferences_json_insert BEFORE INSERT ON user_preferences
WHEN (NEW.midi_input_devices_json IS NOT NULL AND (NOT json_valid(NEW.midi_input_devices_json) OR instr(CAST(NEW.midi_input_devices_json AS BLOB), x'00'))) OR (NEW.midi_output_devices_json IS NOT NULL AND (NOT json_valid(NEW.midi_output_devices_json) OR instr(CAST(NEW.midi_output_devices_json AS BLOB), x'00'))) OR (NEW.window_state_json IS NOT NULL AND (NOT json_valid(NEW.window_state_json) OR instr(CAST(NEW.window_state_json AS BLOB), x'00'))) OR (NEW.panel_layout_json IS NOT NULL AND (NOT json_valid(NEW.panel_layout_json) OR instr(CAST(NEW.panel_layout_json AS BLOB), x'00'))) OR (NEW.splitter_positions_json IS NOT NULL AND (NOT json_valid(NEW.splitter_positions_json) OR instr(CAST(NEW.splitter_positions_json AS BLOB), x'00'))) OR (NEW.library_folders_json IS NOT NULL AND (NOT json_valid(NEW.library_folders_json) OR instr(CAST(NEW.library_folders_json AS BLOB), x'00'))) OR (NEW.recent_songs_json IS NOT NULL AND (NOT json_valid(NEW.recent_songs_json) OR instr(CAST(NEW.recent_songs_json AS BLOB), x'00'))) OR (NEW.favorite_songs_json IS NOT NULL AND (NOT json_valid(NEW.favorite_songs_json) OR instr(CAST(NEW.favorite_songs_json AS BLOB), x'00'))) OR (NEW.favorite_performances_json IS NOT NULL AND (NOT json_valid(NEW.favorite_performances_json) OR instr(CAST(NEW.favorite_performances_json AS BLOB), x'00'))) OR (NEW.favorite_instruments_json IS NOT NULL AND (NOT json_valid(NEW.favorite_instruments_json) OR instr(CAST(NEW.favorite_instruments_json AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'user_preferences: a JSON column holds text that is not JSON');
END;
CREATE TRIGGER user_preferences_json_update BEFORE UPDATE OF midi_input_devices_json, midi_output_devices_json, window_state_json, panel_layout_json, splitter_positions_json, library_folders_json, recent_songs_json, favorite_songs_json, favorite_performances_json, favorite_instruments_json ON user_preferences
WHEN (NEW.midi_input_devices_json IS NOT NULL AND (NOT json_valid(NEW.midi_input_devices_json) OR instr(CAST(NEW.midi_input_devices_json AS BLOB), x'00'))) OR (NEW.midi_output_devices_json IS NOT NULL AND (NOT json_valid(NEW.midi_output_devices_json) OR instr(CAST(NEW.midi_output_devices_json AS BLOB), x'00'))) OR (NEW.window_state_json IS NOT NULL AND (NOT json_valid(NEW.window_state_json) OR instr(CAST(NEW.window_state_json AS BLOB), x'00'))) OR (NEW.panel_layout_json IS NOT NULL AND (NOT json_valid(NEW.panel_layout_json) OR instr(CAST(NEW.panel_layout_json AS BLOB), x'00'))) OR (NEW.splitter_positions_json IS NOT NULL AND (NOT json_valid(NEW.splitter_positions_json) OR instr(CAST(NEW.splitter_positions_json AS BLOB), x'00'))) OR (NEW.library_folders_json IS NOT NULL AND (NOT json_valid(NEW.library_folders_json) OR instr(CAST(NEW.library_folders_json AS BLOB), x'00'))) OR (NEW.recent_songs_json IS NOT NULL AND (NOT json_valid(NEW.recent_songs_json) OR instr(CAST(NEW.recent_songs_json AS BLOB), x'00'))) OR (NEW.favorite_songs_json IS NOT NULL AND (NOT json_valid(NEW.favorite_songs_json) OR instr(CAST(NEW.favorite_songs_json AS BLOB), x'00'))) OR (NEW.favorite_performances_json IS NOT NULL AND (NOT json_valid(NEW.favorite_performances_json) OR instr(CAST(NEW.favorite_performances_json AS BLOB), x'00'))) OR (NEW.favorite_instruments_json IS NOT NULL AND (NOT json_valid(NEW.favorite_instruments_json) OR instr(CAST(NEW.favorite_instruments_json AS BLOB), x'00')))
BEGIN
    SELECT RAISE(ABORT, 'user_preferences: a JSON column holds text that is not JSON');
END;
