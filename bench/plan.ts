/**
 * The persistence plan's performance table, measured through the sidecar: each operation's median
 * next to the plan's target, and next to the same database work done in-process with
 * better-sqlite3 on a copy of the same database (no transport, no validation, no model mapping:
 * the baseline), measured in the same run, interleaved in rounds.
 *
 *   npm run bench:plan [-- --songs 1000] [-- --rounds 5] [-- --bin dist-bin/whiteroom-store]
 *
 * The library: `--songs` songs of about 8 KB of section data and a performance for every fifth
 * one, saved through the sidecar; an autosave snapshot per song for the migration. Backup and
 * restore of 100 MB are `npm run bench:backup`; here they run on this library.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MIGRATIONS } from '../src/generated/migrations.js';
import { openDatabase } from '../src/store/database.js';
import { benchSong, figure, Peer, QUICK, report, request, result, since, type Figure } from './lib.js';

const { values } = parseArgs({
  options: { songs: { type: 'string', default: '1000' }, rounds: { type: 'string', default: QUICK ? '2' : '5' }, bin: { type: 'string' } },
});
const SONGS = Number(values.songs);
const ROUNDS = Number(values.rounds);
/** Requests of each single-record operation per round. */
const PER_ROUND = QUICK ? 15 : 40;

const dir = mkdtempSync(join(tmpdir(), 'wr-bench-plan-'));
const bin = values.bin ? [resolve(values.bin)] : [process.execPath, resolve('dist', 'src', 'main.js')];
const sidecarArgs = (dataDir: string): string[] => [...bin.slice(1), '--data-dir', dataDir, '--log-level', 'warn', '--auto-backup-hours', '0'];

const song = (i: number): Record<string, unknown> => {
  const s = benchSong(`S${i}`, 8 * 1024);
  return { ...s, metadata: { ...(s.metadata as object), genre: ['jazz', 'folk', 'rock'][i % 3] } };
};
const performance = (i: number): Record<string, unknown> => ({
  id: `P${i}`,
  songId: `S${i}`,
  name: `Take ${i}`,
  arrangementStyle: 'SATB',
  density: 0.6,
  instrumentationMap: { soprano: { voice: 's1' }, alto: { voice: 'a1' } },
  mixTargets: { lufs: -16 },
});

try {
  // 1. The library, saved through the sidecar.
  const live = join(dir, 'live');
  let sidecar = Peer.spawn(bin[0]!, sidecarArgs(live));
  for (let i = 0; i < SONGS; i += 100) {
    const items = Array.from({ length: Math.min(100, SONGS - i) }, (_, k) => song(i + k));
    result(await sidecar.ask(request('songs.saveMany', { items })));
  }
  const perfs = Array.from({ length: Math.ceil(SONGS / 5) }, (_, k) => performance(k * 5));
  for (let i = 0; i < perfs.length; i += 100) result(await sidecar.ask(request('performances.saveMany', { items: perfs.slice(i, i + 100) })));
  await sidecar.close();

  // 2. The in-process baseline works on a copy, opened as the sidecar opens its file.
  copyFileSync(join(live, 'data.db'), join(dir, 'base.db'));
  const db = openDatabase(join(dir, 'base.db'));
  const parseSong = (row: Record<string, unknown>): void => {
    for (const c of ['sections_json', 'roles_json', 'projections_json', 'mix_graph_json']) JSON.parse(row[c] as string);
  };
  const upsertSong = db.prepare(
    'INSERT INTO songs (id, name, created_at, updated_at, determinism_seed, sections_json, roles_json, projections_json, mix_graph_json) ' +
      "VALUES (@id, @name, 1, @now, '1', @sections, @roles, '[]', @mix) ON CONFLICT (id) DO UPDATE SET name = excluded.name, " +
      'updated_at = excluded.updated_at, sections_json = excluded.sections_json, roles_json = excluded.roles_json, mix_graph_json = excluded.mix_graph_json',
  );
  const getSong = db.prepare('SELECT * FROM songs WHERE id = ?');
  const allSongs = db.prepare('SELECT * FROM songs ORDER BY updated_at DESC, id DESC');
  const search = db.prepare(
    'SELECT t.* FROM songs_fts JOIN songs AS t ON t.rowid = songs_fts.rowid WHERE songs_fts MATCH ? ORDER BY bm25(songs_fts), t.id LIMIT 50',
  );
  const upsertPerf = db.prepare(
    'INSERT INTO performances (id, song_id, name, created_at, updated_at, arrangement_style, instrumentation_map_json, mix_targets_json) ' +
      'VALUES (@id, @songId, @name, 1, @now, @style, @map, @mix) ON CONFLICT (id) DO UPDATE SET name = excluded.name, ' +
      'updated_at = excluded.updated_at, instrumentation_map_json = excluded.instrumentation_map_json, mix_targets_json = excluded.mix_targets_json',
  );
  const getPerf = db.prepare('SELECT * FROM performances WHERE id = ?');

  /** Songs with a performance: every fifth one. */
  const perfAt = (i: number): number => (i % perfs.length) * 5;
  type Op = { name: string; target: number; sidecar: (i: number) => Promise<void>; inProcess: (i: number) => void; per?: number };
  const ask = async (method: string, params: object): Promise<Record<string, unknown>> => result(await sidecar.ask(request(method, params)));
  const ops: Op[] = [
    {
      name: 'Save Song',
      target: 50,
      sidecar: async (i) => void (await ask('songs.save', { item: song(i % SONGS) })),
      inProcess: (i) => {
        const s = song(i % SONGS);
        db.transaction(() =>
          upsertSong.run({ id: s.id, name: s.name, now: Date.now(), sections: JSON.stringify(s.sections), roles: JSON.stringify(s.roles), mix: JSON.stringify(s.mixGraph) }),
        )();
      },
    },
    {
      name: 'Load Song',
      target: 50,
      sidecar: async (i) => void (await ask('songs.get', { id: `S${(i * 7) % SONGS}` })),
      inProcess: (i) => parseSong(getSong.get(`S${(i * 7) % SONGS}`) as Record<string, unknown>),
    },
    {
      name: `Load All Songs (${SONGS})`,
      target: 500,
      per: 3,
      // Until the answers have arrived (the host's parse of them is the host's, not the sidecar's).
      sidecar: async () => {
        let cursor: string | undefined;
        do {
          const line = await sidecar.ask(request('songs.list', { limit: 1000, ...(cursor ? { cursor } : {}) }));
          const at = line.lastIndexOf('"nextCursor":"');
          cursor = at === -1 ? undefined : line.slice(at + 14, line.indexOf('"', at + 14));
        } while (cursor);
      },
      // The same read, parse and serialise in-process: the rows, their parts parsed, the answer's JSON.
      inProcess: () => {
        const items = (allSongs.all() as Record<string, unknown>[]).map((row) => ({
          ...row,
          sections_json: JSON.parse(row.sections_json as string),
          roles_json: JSON.parse(row.roles_json as string),
          projections_json: JSON.parse(row.projections_json as string),
          mix_graph_json: JSON.parse(row.mix_graph_json as string),
        }));
        JSON.stringify({ jsonrpc: '2.0', id: 1, result: { items } });
      },
    },
    {
      name: 'Search Songs',
      target: 100,
      sidecar: async (i) => void (await ask('songs.search', { query: i % 2 ? 'jazz' : `song s${(i * 13) % SONGS}` })),
      inProcess: (i) => {
        for (const row of search.all(i % 2 ? '"jazz"*' : `"song"* "s${(i * 13) % SONGS}"*`) as Record<string, unknown>[]) parseSong(row);
      },
    },
    {
      name: 'Save Performance',
      target: 50,
      sidecar: async (i) => void (await ask('performances.save', { item: performance(perfAt(i)) })),
      inProcess: (i) => {
        const p = performance(perfAt(i));
        db.transaction(() =>
          upsertPerf.run({ id: p.id, songId: p.songId, name: p.name, now: Date.now(), style: p.arrangementStyle, map: JSON.stringify(p.instrumentationMap), mix: JSON.stringify(p.mixTargets) }),
        )();
      },
    },
    {
      name: 'Load Performance',
      target: 50,
      sidecar: async (i) => void (await ask('performances.get', { id: `P${perfAt(i * 7)}` })),
      inProcess: (i) => {
        const row = getPerf.get(`P${perfAt(i * 7)}`) as Record<string, unknown>;
        JSON.parse(row.instrumentation_map_json as string);
        JSON.parse(row.mix_targets_json as string);
      },
    },
  ];

  sidecar = Peer.spawn(bin[0]!, sidecarArgs(live));
  const times = new Map<string, { sidecar: number[]; inProcess: number[] }>(ops.map((o) => [o.name, { sidecar: [], inProcess: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const op of ops) {
      const t = times.get(op.name)!;
      for (let i = 0; i < (op.per ?? PER_ROUND); i++) {
        const k = round * PER_ROUND + i;
        let s = process.hrtime.bigint();
        await op.sidecar(k);
        t.sidecar.push(since(s));
        s = process.hrtime.bigint();
        op.inProcess(k);
        t.inProcess.push(since(s));
      }
    }
  }

  // 3. Backup and restore of this library; baseline: better-sqlite3's db.backup of the copy.
  const bk = { sidecar: [] as number[], inProcess: [] as number[], restore: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    let s = process.hrtime.bigint();
    const made = await ask('backup.create', {});
    bk.sidecar.push(since(s));
    s = process.hrtime.bigint();
    await db.backup(join(dir, 'api.db'));
    bk.inProcess.push(since(s));
    rmSync(join(dir, 'api.db'));
    s = process.hrtime.bigint();
    await ask('backup.restore', { path: made.path as string });
    bk.restore.push(since(s));
    await ask('backup.prune', { keep: 0 });
  }
  await sidecar.close();
  db.close();

  // 4. Migration: a copy of the library at schema 1 (with an autosave per song), started on by
  // the sidecar (pre-migration backup, then each pending migration), against a start on the
  // same library at the current schema.
  const v1Dir = join(dir, 'v1');
  mkdirSync(v1Dir);
  const v1 = openDatabase(join(v1Dir, 'data.db'));
  for (const m of MIGRATIONS.filter((x) => x.version === 1)) v1.exec(m.sql);
  v1.pragma('user_version = 1');
  v1.exec(`ATTACH '${join(live, 'data.db').replace(/'/g, "''")}' AS cur`);
  // The columns schema 1 has (later migrations add columns of their own).
  for (const table of ['songs', 'performances']) {
    const cols = (v1.pragma(`table_info(${table})`) as { name: string }[]).map((c) => `"${c.name}"`).join(', ');
    v1.exec(`INSERT INTO ${table} (${cols}) SELECT ${cols} FROM cur.${table}`);
  }
  // A snapshot of each song as autosave.stage stores it (its sections are most of it): migration 5
  // moves it into the part store.
  v1.exec(
    `INSERT INTO autosaves (id, song_id, name, snapshot_json, created_at)
     SELECT 'A' || id, id, 'Auto-Save', json_object('song', json_object('id', id, 'name', name, 'sections', json(sections_json))), updated_at FROM songs`,
  );
  v1.exec('DETACH cur');
  v1.pragma('wal_checkpoint(TRUNCATE)');
  v1.close();
  const startUntilAnswer = async (dataDir: string): Promise<number> => {
    const s = process.hrtime.bigint();
    const p = Peer.spawn(bin[0]!, sidecarArgs(dataDir));
    const info = result(await p.ask(request('system.info')));
    const elapsed = since(s);
    await p.close();
    if (info.schemaVersion !== MIGRATIONS[MIGRATIONS.length - 1]!.version) throw new Error(`not migrated: ${JSON.stringify(info)}`);
    return elapsed;
  };
  const mig = { migrate: [] as number[], plain: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const d = join(dir, `m${round}`);
    mkdirSync(d);
    copyFileSync(join(v1Dir, 'data.db'), join(d, 'data.db'));
    mig.migrate.push(await startUntilAnswer(d));
    mig.plain.push(await startUntilAnswer(live));
  }

  const mb = (statSync(join(live, 'data.db')).size / 1e6).toFixed(0);
  const ms = (us: number[]): number[] => us.map((u) => u / 1000);
  const row = (name: string, target: number, ours: number[], base: number[], baseName: string): Figure => {
    const f = figure(name, 'ms', ms(ours), { baseline: baseName, samples: ms(base) });
    return { ...f, goal: `< ${target} ms (plan)`, met: f.median < target };
  };
  report({
    bench: 'plan',
    setup: `the plan's performance table: ${SONGS} songs, ${perfs.length} performances, ${mb} MB; ${ROUNDS} rounds; baseline: the same database work in-process with better-sqlite3; target ${bin.join(' ')}`,
    figures: [
      ...ops.map((op) => row(op.name, op.target, times.get(op.name)!.sidecar, times.get(op.name)!.inProcess, 'in-process')),
      // Issue 14: listing full songs no slower than doing the same read, parse and serialise in-process.
      figure(`Load All Songs (${SONGS}) against in-process read + parse + serialise`, 'ms', ms(times.get(`Load All Songs (${SONGS})`)!.sidecar), {
        baseline: 'in-process read + parse + serialise',
        samples: ms(times.get(`Load All Songs (${SONGS})`)!.inProcess),
        goal: { max: 1 },
      }),
      row('Create Backup', 5000, bk.sidecar, bk.inProcess, 'db.backup in-process'),
      row('Restore Backup', 10000, bk.restore, bk.inProcess, 'db.backup in-process'),
      row('Migration (1 to latest)', 30000, mig.migrate, mig.plain, 'start on the current schema'),
    ],
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
