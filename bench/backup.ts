/**
 * Backup and restore of a ~100 MB database through the sidecar, against baselines measured in the
 * same run on the same file, medians of `--runs` rounds, interleaved:
 *   - a plain file copy of the database (the baseline issue 6 names: a backup within 2x of it, a
 *     restore within 3x);
 *   - the same copy made durable (fsync), the least any backup must do before it is reported: the
 *     baseline of issue 14 (a backup within 1.5x of it);
 *   - better-sqlite3's own online backup (`db.backup`) of the same file in this process, with
 *     nothing of the sidecar around it: SQLite's page-by-page copy, the floor of the fallback.
 * backup.create copies the file under a snapshot (src/store/backup.ts); the sidecar's log says how
 * each backup was made (clone, copy, or backup-api), and the summary counts them.
 *
 * As root, where an XFS image with reflink can be made on a loop device (mkfs.xfs: Debian's
 * xfsprogs), the same data directory is measured there too: backup.create is then a clone, next
 * to a copy + fsync and a bare clone + fsync of the same file. Skipped with one line otherwise.
 *
 * Spawned processes get a clean environment (bench/lib.ts cleanEnv).
 *
 *   npm run bench:backup [-- --runs 5] [-- --mb 100] [-- --bin dist-bin/whiteroom-store]
 */
import { execFileSync } from 'node:child_process';
import { constants, copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fsyncPath } from '../src/store/backup.js';
import { openDatabase } from '../src/store/database.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountXfs, unmountXfs, type Xfs } from '../test/helpers/xfs.js';
import { benchSong, cleanEnv, figure, median, Peer, QUICK, report, request, result, since, type Figure } from './lib.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: QUICK ? '3' : '5' }, mb: { type: 'string', default: QUICK ? '30' : '100' }, bin: { type: 'string' } },
});
const RUNS = Number(values.runs);
const TARGET_BYTES = Number(values.mb) * 1e6;

const env = cleanEnv();

const dir = mkdtempSync(join(tmpdir(), 'wr-bench-bk-'));
const dataDir = join(dir, 'data');
const bin = values.bin ? [resolve(values.bin)] : [process.execPath, resolve('dist', 'src', 'main.js')];
const argsFor = (data: string): string[] => [...bin.slice(1), '--data-dir', data, '--log-level', 'info', '--auto-backup-hours', '0'];

/** The sidecar on `data`, with the methods its log names for the backups it writes. */
function sidecarOn(data: string): { peer: Peer; methods: string[] } {
  const peer = Peer.spawn(bin[0]!, argsFor(data), env);
  const methods: string[] = [];
  let rest = '';
  peer.child.stderr.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (l.includes('"backup written"')) methods.push((JSON.parse(l) as { method: string }).method);
  });
  return { peer, methods };
}

const tally = (methods: string[]): string =>
  Object.entries(methods.reduce<Record<string, number>>((n, m) => ({ ...n, [m]: (n[m] ?? 0) + 1 }), {}))
    .map(([m, n]) => `${n} ${m}`)
    .join(', ');

// Each measured step starts on a quiet disk: what earlier steps wrote or deleted (ext4 writes
// back and discards in the background) is flushed first, so no step pays for another's.
const settle = async (): Promise<void> => {
  execFileSync('sync');
  await sleep(100);
};
const timer =
  (r: Record<string, number[]>) =>
  async (name: string, step: () => unknown): Promise<void> => {
    await settle();
    const t = process.hrtime.bigint();
    await step();
    (r[name] ??= []).push(since(t));
  };
const ms = (us: number): string => (us / 1000).toFixed(0).padStart(6);

let xfs: Xfs | string | undefined;
try {
  // 1. A database with the schema (the sidecar makes it), filled to the target size in-process.
  let { peer: sidecar } = sidecarOn(dataDir);
  await sidecar.ask(request('system.ping', {}));
  await sidecar.close();
  const db = openDatabase(join(dataDir, 'data.db'));
  const song = benchSong('x', 16 * 1024);
  const insert = db.prepare(
    'INSERT INTO songs (id, name, created_at, updated_at, determinism_seed, sections_json, roles_json, projections_json, mix_graph_json) ' +
      "VALUES (?, ?, 1, 1, '1', ?, '[]', '[]', '{}')",
  );
  const sections = JSON.stringify(song.sections);
  let i = 0;
  const bytes = (): number => (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  while (bytes() < TARGET_BYTES) {
    db.transaction(() => {
      for (let k = 0; k < 500; k++, i++) insert.run(`S${i}`, `Song ${i}`, sections);
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const size = statSync(join(dataDir, 'data.db')).size;

  const started = sidecarOn(dataDir);
  sidecar = started.peer;
  const r: Record<string, number[]> = {};
  const time = timer(r);
  // The in-process baseline reads a copy of the same file (the sidecar's file is its alone),
  // through a connection opened as the sidecar opens its own.
  copyFileSync(join(dataDir, 'data.db'), join(dir, 'base.db'));
  const own = openDatabase(join(dir, 'base.db'));
  const file = (name: string): string => join(dir, name);
  const live = join(dataDir, 'data.db');
  for (let run = 0; run < RUNS; run++) {
    // Baseline: a plain copy of the live file (only a baseline for speed: it is not a safe way to
    // back up a WAL database while it is written).
    await time('copy', () => copyFileSync(live, file('copy.db')));
    // The same, made durable (what a backup must be before it is reported).
    await time('copySync', () => {
      copyFileSync(live, file('copy2.db'));
      fsyncPath(file('copy2.db'));
    });
    await time('api', () => own.backup(file('api.db'), { progress: () => 1024 }));
    for (const f of ['copy.db', 'copy2.db', 'api.db']) rmSync(file(f));
    let backupPath = '';
    await time('backup', async () => {
      backupPath = result(await sidecar.ask(request('backup.create', {}))).path as string;
    });
    await time('restore', async () => result(await sidecar.ask(request('backup.restore', { path: backupPath }))));
    result(await sidecar.ask(request('backup.prune', { keep: 0 })));
  }
  // Serving meanwhile: pings one after another (10 ms apart) while a backup runs, against pings
  // to the idle sidecar. The backup's phases on the event loop (its quick_check) hold them up.
  const pings = async (until: () => boolean, out: number[]): Promise<void> => {
    while (!until()) {
      const t = process.hrtime.bigint();
      result(await sidecar.ask(request('system.ping', {})));
      out.push(since(t));
      await sleep(10);
    }
  };
  const idle: number[] = [];
  let n0 = 0;
  await pings(() => n0++ >= 50, idle);
  const during: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await settle();
    let done = false;
    const made = sidecar.ask(request('backup.create', {})).then((line) => {
      done = true;
      return line;
    });
    await pings(() => done, during);
    result(await made);
    result(await sidecar.ask(request('backup.prune', { keep: 0 })));
  }
  await sidecar.close();
  own.close();
  const us = (xs: number[]): number[] => xs.map((x) => x / 1000);
  const figures: Figure[] = [
    figure('plain file copy', 'ms', us(r.copy!)),
    figure('file copy + fsync', 'ms', us(r.copySync!)),
    figure('better-sqlite3 db.backup in-process (the fallback\'s floor)', 'ms', us(r.api!), { baseline: 'copy + fsync', samples: us(r.copySync!) }),
    figure(`backup.create (made as: ${tally(started.methods)})`, 'ms', us(r.backup!), { baseline: 'copy + fsync', samples: us(r.copySync!), goal: { max: 1.5 } }),
    figure('backup.restore (validate, pre-restore backup, copy, swap, reopen)', 'ms', us(r.restore!), { baseline: 'copy + fsync', samples: us(r.copySync!) }),
    figure('system.ping while a backup runs', 'ms', us(during), { baseline: 'idle', samples: us(idle) }),
  ];
  const setup = `a ${(size / 1e6).toFixed(0)} MB database in ${tmpdir()}; ${RUNS} runs, alternating; target ${bin.join(' ')}`;
  // 2. The same data directory on XFS with reflink: the backup is a clone.
  xfs = mountXfs(Math.max(512, Math.ceil((size * 4) / 2 ** 20)));
  if (typeof xfs === 'string') {
    // (said in the report's setup line)
  } else {
    const fs = xfs.dir;
    const xData = join(fs, 'data');
    cpSync(dataDir, xData, { recursive: true });
    const x = sidecarOn(xData);
    await x.peer.ask(request('system.ping', {}));
    const xr: Record<string, number[]> = {};
    const xtime = timer(xr);
    const xlive = join(xData, 'data.db');
    for (let run = 0; run < RUNS; run++) {
      // A copy of the bytes through the process (the kernel's copy_file_range clones on XFS).
      await xtime('bytes', () => {
        writeFileSync(join(fs, 'bytes.db'), readFileSync(xlive));
        fsyncPath(join(fs, 'bytes.db'));
      });
      await xtime('copySync', () => {
        copyFileSync(xlive, join(fs, 'copy.db'));
        fsyncPath(join(fs, 'copy.db'));
      });
      await xtime('clone', async () => {
        await copyFile(xlive, join(fs, 'clone.db'), constants.COPYFILE_FICLONE_FORCE);
        fsyncPath(join(fs, 'clone.db'));
      });
      rmSync(join(fs, 'copy.db'));
      rmSync(join(fs, 'bytes.db'));
      rmSync(join(fs, 'clone.db'));
      await xtime('backup', async () => result(await x.peer.ask(request('backup.create', {}))));
      result(await x.peer.ask(request('backup.prune', { keep: 0 })));
    }
    await x.peer.close();
    figures.push(
      figure('XFS (reflink): byte copy + fsync, through the process', 'ms', us(xr.bytes!)),
      figure('XFS (reflink): file copy + fsync (copy_file_range clones)', 'ms', us(xr.copySync!)),
      figure('XFS (reflink): clone + fsync', 'ms', us(xr.clone!), { baseline: 'byte copy + fsync', samples: us(xr.bytes!) }),
      figure(`XFS (reflink): backup.create (made as: ${tally(x.methods)})`, 'ms', us(xr.backup!), { baseline: 'byte copy + fsync', samples: us(xr.bytes!), goal: { max: 1.5 } }),
    );
  }
  report({ bench: 'backup', setup: typeof xfs === 'string' ? `${setup}; XFS with reflink skipped: ${xfs}` : setup, figures });
} finally {
  if (xfs && typeof xfs !== 'string') unmountXfs(xfs);
  rmSync(dir, { recursive: true, force: true });
}
