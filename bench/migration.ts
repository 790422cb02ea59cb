/**
 * `npm run bench:migration`: the plan's migration target (< 30 s) on a database of about 100 MB.
 *
 *   npm run bench:migration [-- --mb 100] [-- --rounds 3] [-- --bin dist-bin/whiteroom-store]
 *
 * The library is written at schema 1, as the first release left it: songs of about 8 KB of note
 * events each (every song's own notes, so the part store that migration 5 fills shares nothing
 * between songs), a performance for every fifth song, and an autosave snapshot of every song (the
 * whole song, as `autosave.stage` stored it then). That is the worst case for migrations 3 to 6:
 * every row gets its name key and folded search text (3), every favourite moves (4), every song,
 * performance and snapshot goes into the part store with its first version (5), every JSON column
 * is checked (6).
 *
 * Measured: the sidecar started on a fresh copy of that file, until `system.info` answers with the
 * newest schema: the pre-migration backup, every pending migration in its own transaction, and the
 * start itself. Against: a start on the same library already at the newest schema.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MIGRATIONS } from '../src/generated/migrations.js';
import { openDatabase } from '../src/store/database.js';
import { figure, Peer, QUICK, report, request, result, since } from './lib.js';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: QUICK ? '20' : '100' },
    rounds: { type: 'string', default: QUICK ? '1' : '3' },
    bin: { type: 'string' },
  },
});
const TARGET_MB = Number(values.mb);
const ROUNDS = Number(values.rounds);
const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;
/** About 18 KB per song in the file: its row, its snapshot, their indexes. */
const SONGS = Math.ceil((TARGET_MB * 1e6) / 18_000);

const dir = mkdtempSync(join(tmpdir(), 'wr-bench-migration-'));
const bin = values.bin ? [resolve(values.bin)] : [process.execPath, resolve('dist', 'src', 'main.js')];
const sidecarArgs = (dataDir: string): string[] => [...bin.slice(1), '--data-dir', dataDir, '--log-level', 'warn', '--auto-backup-hours', '0'];

/** About 8 KB of note events that belong to song `i` alone. */
function sections(i: number): string {
  const notes: object[] = [];
  for (let n = 0; n < 130; n++) {
    notes.push({ id: `n${n}`, pitch: 36 + ((i * 7 + n * 5) % 60), start: n * 0.25, length: 0.25 * (1 + ((i + n) % 4)), velocity: 40 + ((i + n * 3) % 87) });
  }
  return JSON.stringify([{ id: 'verse', bars: 8 + (i % 8), notes }]);
}

/** Writes the schema-1 library; answers its size in bytes. */
function buildV1(path: string): number {
  const db = openDatabase(path);
  for (const m of MIGRATIONS.filter((x) => x.version === 1)) db.exec(m.sql);
  db.pragma('user_version = 1');
  const song = db.prepare(
    `INSERT INTO songs (id, name, created_at, updated_at, tempo, tags, composer, genre, determinism_seed,
       sections_json, roles_json, projections_json, mix_graph_json, is_favorite)
     VALUES (@id, @name, @t, @t, @tempo, @tags, @composer, @genre, @seed, @sections, @roles, '[]', @mix, @fav)`,
  );
  const perf = db.prepare(
    `INSERT INTO performances (id, song_id, name, created_at, updated_at, arrangement_style, instrumentation_map_json, mix_targets_json)
     VALUES (@id, @songId, @name, @t, @t, 'SATB', @map, '{"lufs":-16}')`,
  );
  const auto = db.prepare('INSERT INTO autosaves (id, song_id, name, snapshot_json, created_at) VALUES (?, ?, ?, ?, ?)');
  const genres = ['jazz', 'folk', 'rock', 'ambient', 'soul'];
  const t0 = Date.UTC(2025, 0, 1);
  db.transaction(() => {
    for (let i = 0; i < SONGS; i++) {
      const s = {
        id: `S${i}`,
        name: `${['Émile', 'Łódź', 'Blue', 'Øresund', 'Night'][i % 5]} ${i}`,
        t: t0 + i * 60_000,
        tempo: 80 + (i % 90),
        tags: JSON.stringify(['bench', `set ${i % 40}`]),
        composer: `Composer ${i % 300}`,
        genre: genres[i % genres.length],
        seed: String(i),
        sections: sections(i),
        roles: JSON.stringify([{ id: 'r', name: 'Bass', type: 'bass', generatorConfig: { octave: i % 3 }, parameters: {} }]),
        mix: JSON.stringify({ tracks: [{ id: 't', name: 'T', volume: 1, pan: ((i % 21) - 10) / 10, mute: false, solo: false }] }),
        fav: i % 10 === 0 ? 1 : 0,
      };
      song.run(s);
      if (i % 5 === 0) perf.run({ id: `P${i}`, songId: s.id, name: `Take ${i}`, t: s.t, map: JSON.stringify({ soprano: { voice: `s${i % 9}` } }) });
      const snapshot = {
        song: {
          id: s.id,
          name: s.name,
          metadata: { tempo: s.tempo, timeSignature: [4, 4], tags: JSON.parse(s.tags), genre: s.genre },
          determinismSeed: s.seed,
          sections: JSON.parse(s.sections),
          roles: JSON.parse(s.roles),
          projections: [],
          mixGraph: JSON.parse(s.mix),
        },
      };
      auto.run(`A${i}`, s.id, 'Auto-Save', JSON.stringify(snapshot), s.t + 1000);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return statSync(path).size;
}

try {
  const v1 = join(dir, 'v1');
  mkdirSync(v1);
  const s = process.hrtime.bigint();
  const bytes = buildV1(join(v1, 'data.db'));
  const built = since(s) / 1e6;

  const startUntilAnswer = async (dataDir: string): Promise<number> => {
    const t = process.hrtime.bigint();
    const p = Peer.spawn(bin[0]!, sidecarArgs(dataDir));
    const info = result(await p.ask(request('system.info')));
    const elapsed = since(t);
    await p.close();
    if (info.schemaVersion !== LATEST) throw new Error(`not migrated: ${JSON.stringify(info)}`);
    return elapsed / 1000;
  };
  const migrate: number[] = [];
  const plain: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const d = join(dir, `m${round}`);
    mkdirSync(d);
    copyFileSync(join(v1, 'data.db'), join(d, 'data.db'));
    migrate.push(await startUntilAnswer(d));
    // The same library at the newest schema, closed cleanly by the start before.
    plain.push(await startUntilAnswer(d));
    if (round > 0) rmSync(d, { recursive: true, force: true });
  }
  const after = statSync(join(dir, 'm0', 'data.db')).size;
  const mb = (b: number): string => (b / 1e6).toFixed(0);
  const f = figure(`Migration (1 to ${LATEST}), ${mb(bytes)} MB`, 'ms', migrate, { baseline: 'start on the newest schema', samples: plain });
  report({
    bench: 'migration',
    setup:
      `a schema-1 database of ${mb(bytes)} MB (${SONGS.toLocaleString('en')} songs of their own 8 KB of notes, ` +
      `a performance for every fifth, an autosave snapshot of each; built in ${built.toFixed(1)} s), ${mb(after)} MB after; ` +
      `${ROUNDS} rounds, each on a fresh copy; target ${bin.join(' ')}`,
    figures: [{ ...f, goal: '< 30000 ms (plan)', met: f.median < 30_000 }],
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
