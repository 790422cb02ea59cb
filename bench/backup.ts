/**
 * Backup and restore of a ~100 MB database through the sidecar, against baselines measured in the
 * same run, medians of `--runs` rounds, interleaved:
 *   - a plain file copy of the database (the baseline issue 6 names: a backup within 2x of it, a
 *     restore within 3x);
 *   - the same copy made durable (fsync), the least any backup must do before it is reported;
 *   - better-sqlite3's own online backup (`db.backup`) of the same file in this process, with
 *     nothing of the sidecar around it: SQLite's page-by-page copy, the floor of a backup made the
 *     way ARCHITECTURE.md requires (never a file copy of a live WAL database).
 *
 *   npm run bench:backup [-- --runs 5] [-- --mb 100] [-- --bin dist-bin/whiteroom-store]
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fsyncPath } from '../src/store/backup.js';
import { openDatabase } from '../src/store/database.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchSong, median, Peer, request, result, since } from './lib.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, mb: { type: 'string', default: '100' }, bin: { type: 'string' } } });
const RUNS = Number(values.runs);
const TARGET_BYTES = Number(values.mb) * 1e6;

const dir = mkdtempSync(join(tmpdir(), 'wr-bench-bk-'));
const dataDir = join(dir, 'data');
const bin = values.bin ? [resolve(values.bin)] : [process.execPath, resolve('dist', 'src', 'main.js')];
const args = [...bin.slice(1), '--data-dir', dataDir, '--log-level', 'warn', '--auto-backup-hours', '0'];

try {
  // 1. A database with the schema (the sidecar makes it), filled to the target size in-process.
  let sidecar = Peer.spawn(bin[0]!, args);
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

  sidecar = Peer.spawn(bin[0]!, args);
  const r: Record<string, number[]> = { copy: [], copySync: [], api: [], backup: [], restore: [] };
  // The in-process baseline reads a copy of the same file (the sidecar's file is its alone),
  // through a connection opened as the sidecar opens its own.
  copyFileSync(join(dataDir, 'data.db'), join(dir, 'base.db'));
  const own = openDatabase(join(dir, 'base.db'));
  // Each measured step starts on a quiet disk: what earlier steps wrote or deleted (ext4 writes
  // back and discards in the background) is flushed first, so no step pays for another's.
  const settle = async (): Promise<void> => {
    execFileSync('sync');
    await sleep(100);
  };
  const time = async (name: string, step: () => unknown): Promise<void> => {
    await settle();
    const t = process.hrtime.bigint();
    await step();
    r[name]!.push(since(t));
  };
  const file = (name: string): string => join(dir, name);
  for (let run = 0; run < RUNS; run++) {
    // Baseline: a plain copy of a file of the same size (a copy of the live file is only a
    // baseline for speed: it is not a safe way to back up a WAL database).
    await time('copy', () => copyFileSync(join(dataDir, 'data.db'), file('copy.db')));
    // The same, made durable (what a backup must be before it is reported).
    await time('copySync', () => {
      copyFileSync(join(dataDir, 'data.db'), file('copy2.db'));
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
  // to the idle sidecar. The backup's steps, and its quick_check, hold each of them up.
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
  const ms = (us: number): string => (us / 1000).toFixed(0).padStart(6);
  const copy = median(r.copy!);
  console.log(`backup and restore of a ${(size / 1e6).toFixed(0)} MB database (${RUNS} runs, medians in ms; target: ${bin.join(' ')})`);
  console.log(`  plain file copy (baseline)   ${ms(copy)}`);
  console.log(`  file copy + fsync            ${ms(median(r.copySync!))}`);
  console.log(`  better-sqlite3 db.backup     ${ms(median(r.api!))}   ratio ${(median(r.api!) / copy).toFixed(2)}x copy (in-process, nothing around it)`);
  console.log(
    `  backup.create                ${ms(median(r.backup!))}   ratio ${(median(r.backup!) / copy).toFixed(2)}x copy, ` +
      `${(median(r.backup!) / median(r.copySync!)).toFixed(2)}x copy + fsync, ` +
      `${(median(r.backup!) / median(r.api!)).toFixed(2)}x db.backup (+ label, quick_check, link)`,
  );
  console.log(
    `  backup.restore               ${ms(median(r.restore!))}   ratio ${(median(r.restore!) / copy).toFixed(2)}x copy, ` +
      `${(median(r.restore!) / median(r.copySync!)).toFixed(2)}x copy + fsync ` +
      '(validate, pre-restore backup, copy, swap, reopen)',
  );
  console.log(
    `  system.ping during backup    ${ms(median(during))}   longest ${ms(Math.max(...during))} ms, ${during.length} pings ` +
      `(idle: ${ms(median(idle))})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
