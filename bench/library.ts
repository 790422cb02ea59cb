/**
 * Song libraries of any size for the benchmarks, built straight into a data directory's data.db
 * with the real schema (every migration) and the store's own derived columns (name keys, folded
 * search text: src/store/derived.ts), so the full-text index, the name index and every other index
 * are what the sidecar would have made. Rows go in with one prepared INSERT, 20,000 per
 * transaction; the songs carry no history (as if they came from before history existed).
 *
 * Songs are drawn from word lists with a Zipf-like skew, so a query can be rare, medium or common:
 * `WORDS.rare` is in ten names whatever the size, `WORDS.medium` in about one in a hundred,
 * `WORDS.common` in about one in ten.
 *
 * A built library is kept (`libraryDir`, in the system's temp folder, by size and builder version)
 * for the next bench of the same run or a later one; `npm run bench -- --fresh` removes them.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../src/generated/migrations.js';
import { derivedValues } from '../src/store/derived.js';
import { ENTITIES } from '../src/store/entities.js';
import { migrate } from '../src/store/migrations.js';
import { Store } from '../src/store/store.js';
import { seededRandom } from '../test/helpers/random.js';

/** Changes when what a library holds changes, so an old one is never reused. */
const BUILDER_VERSION = 2;

/** Where libraries are kept between runs. */
export const LIBRARY_ROOT = join(tmpdir(), 'wr-bench-libraries');

/** Words a query can search for, by how many songs hold them. */
export const WORDS = { rare: 'zyzzogeton', medium: 'lantern', common: 'blue' } as const;

const NAME_WORDS = [
  'river', 'night', 'morning', 'song', 'dance', 'fire', 'rain', 'city', 'light', 'heart', 'road', 'summer', 'winter', 'moon',
  'shadow', 'garden', 'ocean', 'train', 'window', 'mountain', 'silver', 'golden', 'falling', 'rising', 'quiet', 'wild', 'lonely',
  'electric', 'paper', 'glass', 'velvet', 'stone', 'harbor', 'echo', 'drift', 'ember', 'hollow', 'meadow', 'static', 'tide',
];
const COMPOSERS = ['Émile Durand', 'Ana Łukasiewicz', 'Jörg Müller', 'Sofía Núñez', 'Kenji Ito', 'Mary Lee', 'Olu Adeyemi', 'Bjørn Dæhlie', 'Chloé Martin', 'Ravi Shankar'];
const GENRES = ['jazz', 'folk', 'rock', 'classical', 'electronic', 'hip hop', 'ambient', 'soul', 'blues', 'pop'];
const MOODS = ['calm', 'dark', 'happy', 'melancholy', 'energetic', 'dreamy', 'tense'];
const TAGS = ['live', 'demo', 'draft', 'final', 'acoustic', 'remix', 'cover', 'late night', 'sketch', 'vocal'];

/** Index into a list of `n` with a Zipf-like skew (the first items far more often). */
const zipf = (r: number, n: number): number => Math.min(n - 1, Math.floor(n * r ** 2.2));

/** The id of song number `i` (1-based). */
export const songIdOf = (i: number): string => `S${String(i).padStart(7, '0')}`;

/** The data directory of a library of `songs` songs (data.db inside), built when missing. */
export async function libraryDir(songs: number, log: (line: string) => void = () => undefined): Promise<string> {
  const dir = join(LIBRARY_ROOT, `songs-${songs}-v${BUILDER_VERSION}-s${MIGRATIONS.length}`);
  if (existsSync(join(dir, 'data.db'))) return dir;
  mkdirSync(LIBRARY_ROOT, { recursive: true });
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const t0 = performance.now();
  await build(join(building, 'data.db'), songs);
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir);
  const mb = statSync(join(dir, 'data.db')).size / 1e6;
  log(`  (built a library of ${songs.toLocaleString('en')} songs, ${mb.toFixed(0)} MB, in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return dir;
}

async function build(path: string, songs: number): Promise<void> {
  const store = Store.open(path);
  try {
    await migrate(store.db, path, { backupDir: join(path, '..', 'backups') });
    const db = store.db;
    db.pragma('synchronous = OFF');
    const desc = ENTITIES.songs!;
    const insert = db.prepare(
      'INSERT INTO songs (id, name, created_at, updated_at, tempo, key, tags, composer, genre, mood, comments, determinism_seed, ' +
        'sections_json, roles_json, projections_json, mix_graph_json, name_key, search_fold_json) VALUES ' +
        '(@id, @name, @created_at, @updated_at, @tempo, @key, @tags, @composer, @genre, @mood, @comments, @seed, ' +
        "@sections_json, '[]', '[]', @mix_graph_json, @name_key, @search_fold_json)",
    );
    const next = seededRandom(songs);
    const pick = <T>(list: readonly T[]): T => list[zipf(next(), list.length)]!;
    const t = Date.UTC(2026, 0, 1);
    const BATCH = 20_000;
    for (let from = 1; from <= songs; from += BATCH) {
      db.transaction(() => {
        for (let i = from; i < Math.min(songs + 1, from + BATCH); i++) {
          const words = [pick(NAME_WORDS), pick(NAME_WORDS)];
          const r = next();
          if (r < 0.1) words.push(WORDS.common);
          else if (r < 0.11) words.push(WORDS.medium);
          if (i % Math.max(1, Math.floor(songs / 10)) === 0) words.push(WORDS.rare);
          const row: Record<string, unknown> = {
            id: songIdOf(i),
            name: `${words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ')} ${i}`,
            created_at: t + i * 1000,
            updated_at: t + i * 1000,
            tempo: 60 + Math.floor(next() * 120),
            key: ['C', 'G', 'D', 'A', 'F'][i % 5],
            tags: JSON.stringify([...new Set([pick(TAGS), pick(TAGS)])]),
            composer: pick(COMPOSERS),
            genre: pick(GENRES),
            mood: pick(MOODS),
            comments: i % 7 === 0 ? 'recorded at home' : null,
            seed: String(i),
            sections_json: JSON.stringify([
              { id: 'intro', bars: 8, chords: ['C', 'Am', 'F', 'G'] },
              { id: 'verse', bars: 16, chords: ['C', 'G', 'Am', 'F'], melody: [60, 62, 64, 65, 67, 69, 71, 72] },
              { id: 'chorus', bars: 8, chords: ['F', 'G', 'C', 'C'], samplePos: 9223372036854775807n.toString() },
            ]),
            mix_graph_json: '{"tracks":[{"id":"t","name":"Piano","volume":0.8,"pan":0}]}',
          };
          Object.assign(row, derivedValues(desc, row));
          insert.run(row);
        }
      })();
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.exec('ANALYZE');
  } finally {
    store.close();
  }
}
