-- =============================================================================
-- 0004_favourites_in_rows: favourites live in the rows.
--
-- A song's or performance's is_favorite is the one truth; the preferences'
-- favoriteSongs / favoritePerformances are answered from the rows and no longer
-- stored. Ids a database kept only in those columns become flags of the rows
-- they name (a write of each row whose flag changes: its revision grows, its
-- updated_at stays, as songs.setFavorite does); ids that name no row are
-- dropped, and so is a column that is not a JSON array. The columns are left at
-- their default. favorite_instruments stays a preference (instruments have no
-- flag).
-- =============================================================================

UPDATE songs SET is_favorite = 1, revision = revision + 1
WHERE is_favorite = 0 AND id IN (
    SELECT j.value
    FROM user_preferences AS p,
         json_each(CASE WHEN NOT json_valid(p.favorite_songs_json) THEN '[]'
                        WHEN json_type(p.favorite_songs_json) = 'array' THEN p.favorite_songs_json
                        ELSE '[]' END) AS j
    WHERE j.type = 'text'
);

UPDATE performances SET is_favorite = 1, revision = revision + 1
WHERE is_favorite = 0 AND id IN (
    SELECT j.value
    FROM user_preferences AS p,
         json_each(CASE WHEN NOT json_valid(p.favorite_performances_json) THEN '[]'
                        WHEN json_type(p.favorite_performances_json) = 'array' THEN p.favorite_performances_json
                        ELSE '[]' END) AS j
    WHERE j.type = 'text'
);

UPDATE user_preferences SET favorite_songs_json = '[]', favorite_performances_json = '[]';
