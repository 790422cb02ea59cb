/**
 * Crash trials: the sidecar is killed with SIGKILL at random moments (seeded) in the middle of
 * every kind of write, restarted on the same data directory, and judged:
 *
 * - every acknowledged write is there at its acknowledged revision or newer, every acknowledged
 *   delete stays deleted, and each all-or-none write (saveMany, deleteMany, import.songs, a
 *   restore) is there whole or not at all;
 * - every stored song holds the content of its revision (each save carries its revision inside
 *   the record, so a torn write would show);
 * - `PRAGMA integrity_check` and `foreign_key_check` are clean;
 * - no leftover file: no `*.tmp-<pid>`, `data.db.restoring`, partial backup, export work folder,
 *   second name of data.db in backups/, damaged file; every file in backups/ is a whole database
 *   and every file in exports/ a whole export.
 *
 * Kinds of trial: create, update, saveMany, deleteMany, autosave.stage, autosave.flush,
 * backup.create, backup.restore, import.songs, import.full, export.songs, export.full, a
 * migration of a version-1 database killed while it migrates at start, and the recovery of a
 * damaged data.db from the newest backup, killed while it recovers at start. Each kind runs once
 * unkilled first (its duration is the window the kill moment is drawn from). Every other start
 * runs with --synchronous full.
 *
 * CRASH_TRIALS (default 56: four rounds of the fourteen kinds) sets the number of kills and
 * CRASH_SEED (default fixed) the schedule; both are printed.  CRASH_KEEP=1 keeps the folders of a failed run. Needs Linux and the
 * sqlite3 command-line tool. docs/RELIABILITY.md explains the trials and gives the figures.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { MIGRATIONS } from '../../src/generated/migrations.js';
import { buildV1 } from './v1-database.js';
import { StoreProcess, tempDir, type RpcResponse } from '../helpers/process.js';
import { makeSong } from '../helpers/fixtures.js';
import { scribble, sqlite3 } from '../helpers/check.js';
import { seededRandom } from '../helpers/random.js';

const TRIALS = Number(process.env.CRASH_TRIALS ?? 56);
const SEED = Number(process.env.CRASH_SEED ?? 20261130);
/** Each song carries this many bytes of padding, so the database is a few MB and copies take time. */
const PAD_BYTES = 12_000;
/** Songs made before the trials. */
const INITIAL_SONGS = 240;
const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;


/** A song whose first section records the revision it is saved at (a torn write would show). */
const song = (id: string, rev: number, extra: Record<string, unknown> = {}): Record<string, any> =>
  makeSong({ id, name: `${id} r${rev}`, sections: [{ id: 'tag', rev, pad: 'x'.repeat(PAD_BYTES) }], ...extra });

/** Rows of a query through the stock sqlite3 (read beside the running sidecar: WAL mode). */
function rows(db: string, sql: string): any[] {
  const text = execFileSync('sqlite3', ['-json', db, sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).trim();
  return text === '' ? [] : JSON.parse(text);
}

type Kind =
  | 'create'
  | 'update'
  | 'saveMany'
  | 'deleteMany'
  | 'autosave.stage'
  | 'autosave.flush'
  | 'backup.create'
  | 'backup.restore'
  | 'import.songs'
  | 'import.full'
  | 'export.songs'
  | 'export.full'
  | 'migration'
  | 'recovery';

const KINDS: Kind[] = [
  'create',
  'update',
  'saveMany',
  'deleteMany',
  'autosave.stage',
  'autosave.flush',
  'backup.create',
  'backup.restore',
  'import.songs',
  'import.full',
  'export.songs',
  'export.full',
  'migration',
  'recovery',
];

interface Request {
  id: string;
  method: string;
  params: unknown;
}

/** What a trial expects to find after the restart, filled from the answers it got. */
interface Ledger {
  /** Acknowledged song writes: the revision each id must have reached. */
  minRev: Map<string, number>;
  /** Acknowledged deletes. */
  gone: Set<string>;
  /** Writes that commit whole or not at all: `present` ids all there or none; `rev` ids all at rev or none. */
  groups: { what: string; ids: string[]; revs?: number[]; acked: boolean; absentIfNone?: boolean }[];
  /** Acknowledged autosave.stage: the state's seq each song's newest snapshot must have reached. */
  staged: Map<string, number>;
  /** Acknowledged autosave.flush: snapshot ids that must exist. */
  flushed: string[];
  /** Files an acknowledged backup or export named. */
  files: string[];
  /** A restore (backup.restore or import.full): markers written before it tell whether it happened. */
  rollback?: { markers: string[]; to: Map<string, number>; acked: boolean };
}

const newLedger = (): Ledger => ({ minRev: new Map(), gone: new Set(), groups: [], staged: new Map(), flushed: [], files: [] });

describe('crash trials: SIGKILL at random moments of every kind of write', function () {
  this.timeout(0);

  let root: string;
  let dataDir: string;
  let dbPath: string;
  /** Files the trials read from, outside the data directory. */
  let sources: string;
  let proc: StoreProcess | undefined;
  const random = seededRandom(SEED);
  /** id → revision: the exact state after the last restart. */
  let model = new Map<string, number>();
  /** The state export.full captured in the archive import.full restores. */
  let archiveState = new Map<string, number>();
  let archivePath = '';
  /** Template of an exported song (fields an export carries). */
  let exportedSong: Record<string, any> = {};
  let schemaVersion = 0;
  /** Kill window per kind, ms: the duration of the unkilled calibration run. */
  const windowMs = new Map<Kind, number>();
  /** A prepared version-1 database (migration trials copy it). */
  let v1File = '';
  let v1Rows = 0;
  /** Backups already checked whole (name → size). */
  const checkedBackups = new Map<string, number>();
  const figures = { trials: 0, interrupted: 0, acknowledged: 0, lost: 0, byKind: new Map<Kind, number>(), startMs: 0 };
  let trialSeq = 0;

  before(async function () {
    if (process.platform !== 'linux') this.skip();
    figures.startMs = Date.now();
    process.stderr.write(`      crash trials: CRASH_TRIALS=${TRIALS} CRASH_SEED=${SEED}\n`);
    root = tempDir('wr-crash-');
    dataDir = join(root, 'data');
    sources = join(root, 'sources');
    mkdirSync(dataDir);
    mkdirSync(sources);
    dbPath = join(dataDir, 'data.db');
    v1File = join(sources, 'v1.db');
    v1Rows = buildV1(v1File, 300, PAD_BYTES);

    const p = await start();
    const items = Array.from({ length: INITIAL_SONGS }, (_, n) => song(`p-${n}`, 1));
    for (let n = 0; n < items.length; n += 40) await p.call('songs.saveMany', { items: items.slice(n, n + 40) });
    for (let n = 0; n < 3; n++) await p.call('songs.save', { item: song(`auto-${n}`, 1) });
    for (let n = 0; n < 12; n++) {
      await p.call('performances.create', {
        item: { id: `perf-${n}`, songId: `p-${n}`, name: `perf ${n}`, arrangementStyle: 'SATB', instrumentationMap: {}, mixTargets: {} },
      });
    }
    schemaVersion = (await p.call('system.info')).schemaVersion;
    expect(schemaVersion).to.equal(LATEST);
    const exported = await p.call('export.songs', { ids: ['p-0'], path: join(sources, 'template.json') });
    exportedSong = JSON.parse(readFileSync(exported.path, 'utf8')).songs[0];
    syncModel();
    archiveState = new Map(model);
    const archive = await p.call('export.full', {});
    archivePath = join(sources, 'archive.zip');
    renameSync(archive.path, archivePath);
    await p.close();

    // Calibration: each kind once, unkilled; the time it takes is the window kill moments are drawn from.
    for (const kind of KINDS) {
      const t = await trial(kind, undefined);
      windowMs.set(kind, Math.max(20, Math.round(t * 0.8)));
    }
    process.stderr.write(`      kill windows (ms): ${[...windowMs].map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
  });

  after(async function () {
    await proc?.cleanup();
    if (figures.startMs) {
      const seconds = ((Date.now() - figures.startMs) / 1000).toFixed(1);
      process.stderr.write(
        `      crash trials: seed ${SEED}, ${figures.trials} kills (${[...figures.byKind].map(([k, v]) => `${k} ${v}`).join(', ')}), ` +
          `${figures.interrupted} with requests unanswered, ${figures.acknowledged} acknowledged writes, ${figures.lost} lost, ${seconds} s\n`,
      );
    }
    // CRASH_KEEP=1 keeps the folders of a failed run for a look (the path is printed).
    if (root && process.env.CRASH_KEEP === '1' && this.currentTest?.state === 'failed') process.stderr.write(`      kept: ${root}\n`);
    else if (root) rmSync(root, { recursive: true, force: true });
  });

  let starts = 0;
  /** Every other start runs with --synchronous full (same promise against a process crash, other code path in SQLite). */
  async function start(dir = dataDir): Promise<StoreProcess> {
    const p = await StoreProcess.start({ dataDir: dir, args: ++starts % 2 ? ['--synchronous', 'full'] : [] });
    proc = p;
    return p;
  }

  /** The exact state of the songs table, read after a restart. */
  function syncModel(): void {
    model = new Map(rows(dbPath, 'SELECT id, revision FROM songs').map((r) => [r.id, r.revision]));
  }

  /** Sends `burst` at once; kills the process `killAtMs` after (undefined: waits for every answer). Returns the answers and the time taken. */
  async function burst(p: StoreProcess, requests: Request[], killAtMs: number | undefined): Promise<{ answers: Map<string, RpcResponse>; ms: number }> {
    const t0 = performance.now();
    // Backups and full exports run beside the queue: their answers can come after later ones.
    // (Only when no kill comes: a waiter's timer would outlive the process.)
    const last = killAtMs === undefined ? Promise.all(requests.map((r) => p.waitForResponse(r.id, 120000))) : undefined;
    for (const r of requests) p.send({ jsonrpc: '2.0', id: r.id, method: r.method, params: r.params });
    if (last) {
      await last;
    } else {
      await new Promise((resolve) => setTimeout(resolve, killAtMs));
      p.child.kill('SIGKILL');
      await p.exited;
      const stdout = p.child.stdout!;
      if (!stdout.destroyed) await new Promise((resolve) => stdout.once('close', resolve));
    }
    const ms = performance.now() - t0;
    const answers = new Map<string, RpcResponse>();
    for (const m of p.received as RpcResponse[]) if (m && typeof m === 'object' && typeof m.id === 'string') answers.set(m.id, m);
    for (const r of requests) {
      const a = answers.get(r.id);
      if (a?.error) expect.fail(`${r.method} answered ${JSON.stringify(a.error)}; stderr: ${p.stderr.slice(-2000)}`);
    }
    return { answers, ms };
  }

  /** Ids of plain songs (not autosave's, not the performances' parents) in the current state. */
  const plainIds = (): string[] => [...model.keys()].filter((id) => !id.startsWith('auto-') && !/^p-([0-9]|1[01])$/.test(id));

  const pick = <T>(xs: T[], n: number): T[] => {
    const pool = [...xs];
    const out: T[] = [];
    while (out.length < n && pool.length) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
    return out;
  };

  /**
   * One trial: start, prepare (acknowledged steps), send the burst, kill at `killAtMs` (or let it
   * finish: calibration), restart and judge. Returns the burst's duration.
   */
  async function trial(kind: Kind, killAtMs: number | undefined): Promise<number> {
    const t = ++trialSeq;
    if (kind === 'migration') return migrationTrial(killAtMs);
    if (kind === 'recovery') return recoveryTrial(killAtMs);
    const p = await start();
    const ledger = newLedger();
    const requests: Request[] = [];
    const rid = (n: number | string): string => `t${t}-${n}`;
    /** Revisions the burst's writes will give, in order. */
    const planned = new Map(model);
    const plan = (id: string): number => {
      const rev = (planned.get(id) ?? 0) + 1;
      planned.set(id, rev);
      return rev;
    };
    const onAck: Map<string, (result: any) => void> = new Map();
    const add = (method: string, params: unknown, ack?: (result: any) => void): string => {
      const id = rid(requests.length);
      requests.push({ id, method, params });
      if (ack) onAck.set(id, ack);
      return id;
    };

    switch (kind) {
      case 'create':
        for (let n = 0; n < 40; n++) {
          const id = `c${t}-${n}`;
          const rev = plan(id);
          add('songs.create', { item: song(id, rev) }, () => ledger.minRev.set(id, rev));
        }
        break;
      case 'update':
        for (const id of [...pick(plainIds(), 12), ...pick(plainIds(), 12), ...pick(plainIds(), 12)]) {
          const rev = plan(id);
          add('songs.update', { item: song(id, rev) }, () => ledger.minRev.set(id, Math.max(rev, ledger.minRev.get(id) ?? 0)));
        }
        break;
      case 'saveMany':
        for (let b = 0; b < 8; b++) {
          const ids = [...pick(plainIds(), 4), `s${t}-${b}-0`, `s${t}-${b}-1`];
          const revs = ids.map(plan);
          const group = { what: `saveMany ${b}`, ids, revs, acked: false };
          ledger.groups.push(group);
          add('songs.saveMany', { items: ids.map((id, k) => song(id, revs[k]!)) }, () => {
            group.acked = true;
            ids.forEach((id, k) => ledger.minRev.set(id, Math.max(revs[k]!, ledger.minRev.get(id) ?? 0)));
          });
        }
        break;
      case 'deleteMany': {
        const victims = pick(plainIds(), 30);
        // Performances cascade with their songs.
        victims.push(...pick([...model.keys()].filter((id) => /^p-([0-9]|1[01])$/.test(id)), 2));
        for (let b = 0; b < victims.length; b += 4) {
          const ids = victims.slice(b, b + 4);
          const group = { what: `deleteMany ${b}`, ids, acked: false, absentIfNone: true };
          ledger.groups.push(group);
          add('songs.deleteMany', { ids }, () => {
            group.acked = true;
            for (const id of ids) ledger.gone.add(id);
          });
        }
        break;
      }
      case 'autosave.stage':
      case 'autosave.flush': {
        const songs = [...model.keys()].filter((id) => id.startsWith('auto-'));
        for (let n = 0; n < 30; n++) {
          const songId = songs[n % songs.length]!;
          const seq = t * 1000 + n;
          add(
            'autosave.stage',
            { songId, snapshot: { song: { ...song(songId, 0), name: `${songId} seq ${seq}` }, state: { seq, pad: 'y'.repeat(PAD_BYTES) } } },
            () => ledger.staged.set(songId, seq),
          );
          if (kind === 'autosave.flush' && n % 3 === 2) add('autosave.flush', {}, (r) => ledger.flushed.push(...r.saved.map((s: { autosaveId: string }) => s.autosaveId)));
        }
        break;
      }
      case 'backup.create':
        for (let n = 0; n < 3; n++) {
          add('backup.create', { label: `trial ${t}` }, (r) => ledger.files.push(r.path));
          // Writes go on beside a backup.
          for (let k = 0; k < 5; k++) {
            const id = `b${t}-${n}-${k}`;
            const rev = plan(id);
            add('songs.save', { item: song(id, rev) }, () => ledger.minRev.set(id, rev));
          }
        }
        break;
      case 'export.songs':
        for (let n = 0; n < 3; n++) add('export.songs', {}, (r) => ledger.files.push(r.path));
        break;
      case 'export.full':
        // Named apart: two default names in the same second collide (reported; see docs/RELIABILITY.md).
        for (let n = 0; n < 2; n++) add('export.full', { path: `full_backup_t${t}-${n}.zip` }, (r) => ledger.files.push(r.path));
        break;
      case 'import.songs': {
        for (let f = 0; f < 2; f++) {
          const ids = Array.from({ length: 30 }, (_, n) => `i${t}-${f}-${n}`);
          const doc = JSON.parse(readFileSync(join(sources, 'template.json'), 'utf8'));
          doc.songs = ids.map((id) => ({ ...exportedSong, id, name: `${id} r1`, revision: 1, sections: [{ id: 'tag', rev: 1, pad: 'x'.repeat(PAD_BYTES) }] }));
          doc.performances = [];
          const path = join(sources, `import-${t}-${f}.json`);
          writeFileSync(path, JSON.stringify(doc));
          const group = { what: `import.songs ${f}`, ids, revs: ids.map(() => 1), acked: false };
          ledger.groups.push(group);
          add('import.songs', { path, onConflict: 'skip' }, () => {
            group.acked = true;
            for (const id of ids) ledger.minRev.set(id, 1);
          });
        }
        break;
      }
      case 'backup.restore':
      case 'import.full': {
        const to = kind === 'backup.restore' ? new Map(model) : archiveState;
        let source = archivePath;
        if (kind === 'backup.restore') source = (await p.call('backup.create', { label: `before trial ${t}` })).path;
        // Markers: written (and acknowledged) after the state restored, so their presence says the restore did not happen.
        const markers = [`m${t}-0`, `m${t}-1`];
        for (const id of markers) ledger.minRev.set(id, (await p.call('songs.save', { item: song(id, plan(id)) })).revision);
        ledger.rollback = { markers, to, acked: false };
        add(kind, { path: source }, () => (ledger.rollback!.acked = true));
        break;
      }
    }

    const { answers, ms } = await burst(p, requests, killAtMs);
    for (const [id, ack] of onAck) {
      const a = answers.get(id);
      if (a && !a.error) {
        ack(a.result);
        figures.acknowledged++;
      }
    }
    if (killAtMs === undefined) {
      expect(answers.size, 'calibration: every request answered').to.be.at.least(requests.length);
      await p.close();
    } else {
      figures.trials++;
      figures.byKind.set(kind, (figures.byKind.get(kind) ?? 0) + 1);
      if (requests.some((r) => !answers.has(r.id))) figures.interrupted++;
    }
    await judge(kind, ledger);
    return ms;
  }

  /** Restarts on the data directory and checks everything the ledger says. */
  async function judge(kind: Kind, ledger: Ledger): Promise<void> {
    const q = await start();
    try {
      const info = await q.call('system.info');
      // After a recovery trial the start that was killed may have finished the recovery already.
      if (kind !== 'recovery') expect(info.recovery, 'no damaged file was found at start').to.equal(undefined);
      expect(leftovers(dataDir, kind === 'recovery'), `leftover files after a ${kind} trial`).to.deep.equal([]);
      if (kind === 'recovery') {
        const kept = readdirSync(dataDir).filter((n) => /^data\.db\.corrupt-\d{8}-\d{6}$/.test(n));
        expect(kept, 'the damaged file is kept').to.have.length.at.least(1);
        // Kept under its own name, never deleted: the test removes it so that later trials start clean.
        for (const n of readdirSync(dataDir)) if (n.startsWith('data.db.corrupt-')) rmSync(join(dataDir, n));
      }
      expect(sqlite3(dbPath, 'PRAGMA integrity_check'), 'integrity_check').to.equal('ok');
      expect(sqlite3(dbPath, 'PRAGMA foreign_key_check'), 'foreign_key_check').to.equal('');

      const stored = new Map<string, { revision: number; tag: number | null }>(
        rows(dbPath, "SELECT id, revision, json_extract(sections_json, '$[0].rev') AS tag FROM songs").map((r) => [r.id, { revision: r.revision, tag: r.tag }]),
      );
      expect((await q.call('songs.count')).count, 'the sidecar serves what the file holds').to.equal(stored.size);
      for (const [id, s] of stored) {
        if (!id.startsWith('auto-')) expect(s.tag, `${id}: its content is the content of its revision`).to.equal(s.revision);
      }
      const lost = (what: string): void => {
        figures.lost++;
        expect.fail(`lost after a ${kind} trial: ${what}`);
      };

      let restored = false;
      if (ledger.rollback) {
        const present = ledger.rollback.markers.filter((id) => stored.has(id));
        expect(present.length, 'the markers are all there or none').to.be.oneOf([0, ledger.rollback.markers.length]);
        restored = present.length === 0;
        if (ledger.rollback.acked && !restored) lost('an acknowledged restore did not happen');
        if (restored) {
          const now = new Map([...stored].map(([id, s]) => [id, s.revision]));
          expect(now, 'a restore brings back exactly the state of its source').to.deep.equal(ledger.rollback.to);
        }
      }
      if (!restored) {
        for (const [id, rev] of ledger.minRev) {
          const s = stored.get(id);
          if (!s) lost(`${id} (acknowledged at revision ${rev}) is missing`);
          else if (s.revision < rev) lost(`${id} is at revision ${s.revision}, acknowledged at ${rev}`);
        }
        for (const id of ledger.gone) if (stored.has(id)) lost(`${id} was deleted (acknowledged) and is back`);
        for (const g of ledger.groups) {
          const done = g.ids.map((id, k) => (g.absentIfNone ? !stored.has(id) : (stored.get(id)?.revision ?? 0) >= g.revs![k]!));
          const all = done.every(Boolean);
          expect(all || done.every((d) => !d), `${g.what} is all there or not at all: ${JSON.stringify(done)}`).to.equal(true);
          if (g.acked && !all) lost(`${g.what} was acknowledged`);
        }
      }

      // History: each song's newest version holds its stored revision (the row and its version
      // commit together or not at all), and each acknowledged delete left its song in the trash.
      const unversioned = rows(
        dbPath,
        `SELECT id, revision, newest FROM (SELECT s.id, s.revision, (SELECT v.revision FROM versions v WHERE v.entity = 'songs' AND v.entity_id = s.id ORDER BY v.seq DESC LIMIT 1) AS newest FROM songs s) WHERE newest IS NOT revision`,
      );
      expect(unversioned, `songs whose newest version is not their revision after a ${kind} trial`).to.deep.equal([]);
      if (!restored) {
        const trashed = new Set(rows(dbPath, "SELECT entity_id FROM trash WHERE entity = 'songs'").map((r) => r.entity_id));
        for (const id of ledger.gone) if (!trashed.has(id)) lost(`${id} was deleted (acknowledged) and is not in the trash`);
      }

      // Autosave: nothing staged is left (recovered at start), the newest snapshot of each song has
      // reached the acknowledged stage, and the song row is the snapshot that last saved it.
      expect(Number(sqlite3(dbPath, 'SELECT count(*) FROM autosave_staging')), 'staged states recovered at start').to.equal(0);
      // Snapshots are in the part store: read as the host reads them (autosave.list, autosave.get).
      const snapshotsOf = async (songId: string): Promise<any[]> => {
        const out: any[] = [];
        let cursor: string | undefined;
        do {
          const page = await q.call('autosave.list', { songId, limit: 100, ...(cursor === undefined ? {} : { cursor }) });
          for (const s of page.items) out.push({ ...s, snapshot: (await q.call('autosave.get', { id: s.id })).snapshot });
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        return out;
      };
      for (const [songId, seq] of ledger.staged) {
        const seqs = (await snapshotsOf(songId)).map((s) => s.snapshot.state?.seq).filter((n) => typeof n === 'number');
        const newest = seqs.length ? Math.max(...seqs) : NaN;
        if (!(newest >= seq)) lost(`${songId}: staged seq ${seq} was acknowledged, newest snapshot has ${newest}`);
      }
      for (const id of ledger.flushed) {
        if (sqlite3(dbPath, `SELECT count(*) FROM autosaves WHERE id = '${id}'`) !== '1') lost(`flushed snapshot ${id}`);
      }
      for (const songId of [...stored.keys()].filter((id) => id.startsWith('auto-'))) {
        // Newest first; a song's snapshots are strictly ordered by createdAt.
        const last = (await snapshotsOf(songId)).find((s) => !s.recovered && s.reason !== 'pre-restore');
        if (last) {
          expect(sqlite3(dbPath, `SELECT name FROM songs WHERE id = '${songId}'`), `${songId}: the row is its last promoted snapshot`).to.equal(last.snapshot.song.name);
        }
      }

      for (const f of ledger.files) if (!existsSync(f)) lost(`acknowledged file ${f}`);
      checkFiles();
      // Exports are the test's to remove; backups are pruned so the folder stays small.
      for (const name of readdirSync(join(dataDir, 'exports'))) rmSync(join(dataDir, 'exports', name));
      if (readdirSync(join(dataDir, 'backups')).length > 4) await q.call('backup.prune', { keep: 2 });
      for (const f of readdirSync(sources)) if (f.startsWith('import-')) rmSync(join(sources, f));
      syncModel();
      await q.close();
    } finally {
      await q.cleanup();
    }
  }

  /** Files a crash may have left that a start must have removed (or that must never exist). */
  function leftovers(dir = dataDir, damagedKept = false): string[] {
    const bad: string[] = [];
    const allowedTop = new Set(['data.db', 'data.db-wal', 'data.db-shm', 'whiteroom-store.lock', 'whiteroom-store.pid', 'backups', 'exports', 'logs']);
    const kept = (name: string): boolean => damagedKept && /^data\.db\.corrupt-\d{8}-\d{6}(-wal|-shm)?$/.test(name);
    for (const name of readdirSync(dir)) if (!allowedTop.has(name) && !kept(name)) bad.push(name);
    for (const name of readdirSync(join(dir, 'backups'))) {
      if (/^data_\d{4}-\d{2}-\d{2}_\d{6}(-\d+)?\.db$/.test(name)) continue;
      bad.push(`backups/${name}`);
    }
    for (const name of readdirSync(join(dir, 'exports'))) if (!/^(songs_export|full_backup)_[\w-]+\.(json|zip)$/.test(name)) bad.push(`exports/${name}`);
    if (statSync(join(dir, 'data.db')).nlink !== 1) bad.push('data.db has a second name');
    return bad;
  }

  /** Every backup is a whole database; every export a whole file. */
  function checkFiles(dir = dataDir): void {
    for (const name of readdirSync(join(dir, 'backups'))) {
      if (!name.endsWith('.db')) continue; // a side file is a leftover (above)
      const path = join(dir, 'backups', name);
      // A safety backup a killed restore left unfinished is made standalone at start.
      expect(readFileSync(path).subarray(18, 20), `${name} is a standalone rollback-journal file`).to.deep.equal(Buffer.from([1, 1]));
      const size = statSync(path).size;
      if (checkedBackups.get(name) === size) continue;
      expect(sqlite3(path, 'PRAGMA quick_check'), `${name} is a whole database`).to.equal('ok');
      checkedBackups.set(name, size);
    }
    for (const name of readdirSync(join(dir, 'exports'))) {
      const bytes = readFileSync(join(dir, 'exports', name));
      if (name.endsWith('.json')) expect(JSON.parse(bytes.toString('utf8')).songs, `${name} is a whole export`).to.be.an('array');
      // A zip ends with its end-of-central-directory record (no comment: the last 22 bytes).
      else expect(bytes.readUInt32LE(bytes.length - 22), `${name} is a whole zip`).to.equal(0x06054b50);
    }
  }

  /**
   * A damaged data.db at start, killed while it is being recovered: the newest backup (made in the
   * trial, before two markers were written) must be served after the restart, the damaged file
   * kept, no copy left.
   */
  async function recoveryTrial(killAtMs: number | undefined): Promise<number> {
    const p = await start();
    const to = new Map(model);
    await p.call('backup.create', { label: `before damage ${trialSeq}` });
    const markers = [`r${trialSeq}-0`, `r${trialSeq}-1`];
    for (const id of markers) await p.call('songs.save', { item: song(id, 1) });
    await p.close(); // checkpointed: everything is in data.db
    // Garbage over the songs table's root page: quick_check fails at the next start.
    const root = Number(sqlite3(dbPath, "SELECT rootpage FROM sqlite_schema WHERE name = 'songs'"));
    scribble(dbPath, (root - 1) * 4096, root * 4096 - 2048);
    const t0 = performance.now();
    const q = await StoreProcess.start({ dataDir, waitReady: killAtMs === undefined });
    proc = q;
    if (killAtMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, killAtMs));
      q.child.kill('SIGKILL');
      await q.exited;
      figures.trials++;
      figures.byKind.set('recovery', (figures.byKind.get('recovery') ?? 0) + 1);
    } else {
      expect((await q.call('system.info')).recovery, 'calibration: the start recovered').to.not.equal(undefined);
      await q.close();
    }
    const ms = performance.now() - t0;
    await q.cleanup();
    const ledger = newLedger();
    ledger.rollback = { markers, to, acked: true };
    await judge('recovery', ledger);
    return ms;
  }

  /** A version-1 data directory (the fixture plus padding), started and killed while it migrates. */
  async function migrationTrial(killAtMs: number | undefined): Promise<number> {
    const dir = join(root, `v1-${trialSeq}`);
    mkdirSync(dir);
    copyFileSync(v1File, join(dir, 'data.db'));
    const t0 = performance.now();
    const p = await StoreProcess.start({ dataDir: dir, waitReady: killAtMs === undefined });
    proc = p;
    if (killAtMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, killAtMs));
      p.child.kill('SIGKILL');
      await p.exited;
      figures.trials++;
      figures.byKind.set('migration', (figures.byKind.get('migration') ?? 0) + 1);
    }
    const ms = performance.now() - t0;
    await p.cleanup();
    const q = await start(dir);
    try {
      const db = join(dir, 'data.db');
      expect(leftovers(dir), 'leftover files after a migration trial').to.deep.equal([]);
      expect(Number(sqlite3(db, 'PRAGMA user_version'))).to.equal(LATEST);
      expect(sqlite3(db, 'PRAGMA integrity_check')).to.equal('ok');
      expect(sqlite3(db, 'PRAGMA foreign_key_check')).to.equal('');
      expect(Number(sqlite3(db, 'SELECT count(*) FROM songs')), 'every row of the version-1 file').to.equal(v1Rows);
      expect(sqlite3(db, "SELECT revision FROM songs WHERE id = 'song-a'")).to.equal('3');
      expect(Number(sqlite3(db, 'SELECT count(*) FROM autosaves WHERE size_bytes > 0'))).to.equal(Number(sqlite3(db, 'SELECT count(*) FROM autosaves')));
      // The version-1 snapshots moved into the part store (migration 5) read as they were written.
      expect((await q.call('autosave.get', { id: 'auto-2' })).snapshot).to.deep.equal({ song: { name: 'Blue in Green' }, perf: 'perf-a2' });
      expect((await q.call('autosave.get', { id: 'pad-auto-300' })).snapshot).to.deep.equal({ pad: 'z'.repeat(PAD_BYTES) });
      figures.acknowledged += v1Rows; // the version-1 file's songs were there before the start
      checkFiles(dir);
      await q.close();
    } finally {
      await q.cleanup();
      proc = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
    return ms;
  }

  it(`keeps every acknowledged write through ${TRIALS} kills (seed ${SEED})`, async function () {
    // Every kind in each round, in a seeded order; the kill moment is drawn from the kind's window.
    let order: Kind[] = [];
    for (let n = 0; n < TRIALS; n++) {
      if (order.length === 0) order = pick(KINDS, KINDS.length);
      const kind = order.shift()!;
      const at = Math.round(random() * windowMs.get(kind)!);
      try {
        await trial(kind, at);
      } catch (err) {
        (err as Error).message = `trial ${n} (${kind}, killed at ${at} ms, seed ${SEED}): ${(err as Error).message}`;
        throw err;
      }
    }
    expect(figures.lost).to.equal(0);
  });
});
