/**
 * Another process writing to a WAL database: plain node + better-sqlite3, nothing of the sidecar.
 * Spawned by the backup tests (`node wal-writer.js <db> <t|songs>`) to write and checkpoint
 * throughout their backups.
 *
 * Transaction n (1, 2, 3, …) inserts row n and rewrites the `k` of one older row, target(n), to n;
 * every third transaction is followed by a checkpoint, in turn PASSIVE, FULL, RESTART, TRUNCATE.
 * So the whole content after transaction m is known from m alone (expectedRows), and a copy that
 * mixed pages of two states (a checkpoint writing the file while it was copied) shows as rows that
 * differ from expectedRows(max id), or fails integrity_check. Old rows are rewritten all over the
 * table and its index, so checkpoints write pages all over the file.
 *
 * Tables: `t(id INTEGER PRIMARY KEY, k, pad)` with an index on k (made by the caller), or the
 * sidecar's `songs` (id `W0000001`…, k in updated_at, pad in sections_json).
 *
 * Goes on from the rows already there. Prints `ready` once it has committed its first transaction; on SIGTERM (or stdin closing) it
 * stops between transactions and prints one JSON line of counts, then exits.
 */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The older row that transaction n rewrites (n ≥ 2). */
export const target = (n: number): number => 1 + ((n * 2654435761) % (n - 1));
/** The length of row n's padding: 200 to 2,700 bytes. */
export const padLength = (n: number): number => 200 + ((n * 7919) % 2500);
/** The id of row n in the songs table. */
export const songId = (n: number): string => `W${String(n).padStart(7, '0')}`;

/** The rows [id, k, padLength] after transactions 1..m, by id. */
export function expectedRows(m: number): [number, number, number][] {
  const k = Array.from({ length: m + 1 }, (_, i) => i);
  for (let n = 2; n <= m; n++) k[target(n)] = n;
  return Array.from({ length: m }, (_, i) => [i + 1, k[i + 1]!, padLength(i + 1)]);
}

export interface WriterCounts {
  commits: number;
  checkpoints: number;
  /** Checkpoints that copied frames into the file (checkpointed > 0). */
  copied: number;
  /** Checkpoints that could not copy the whole WAL (busy, or checkpointed < log). */
  heldOff: number;
}

const MODES = ['PASSIVE', 'FULL', 'RESTART', 'TRUNCATE'] as const;

/** Transaction n on `db` (see the file's comment). */
export function writerTransaction(db: Database.Database, table: 't' | 'songs'): (n: number) => void {
  const insert =
    table === 't'
      ? db.prepare('INSERT INTO t (id, k, pad) VALUES (?, ?, zeroblob(?))')
      : db.prepare(
          'INSERT INTO songs (id, name, created_at, updated_at, determinism_seed, sections_json, roles_json, projections_json, mix_graph_json) ' +
            "VALUES (?, 'Written by another process', 1, ?, '1', ?, '[]', '[]', '{}')",
        );
  const update = table === 't' ? db.prepare('UPDATE t SET k = ? WHERE id = ?') : db.prepare('UPDATE songs SET updated_at = ? WHERE id = ?');
  return db.transaction((n: number) => {
    if (table === 't') insert.run(n, n, padLength(n));
    else insert.run(songId(n), n, JSON.stringify([{ pad: 'x'.repeat(padLength(n)) }]));
    if (n >= 2) update.run(n, table === 't' ? target(n) : songId(target(n)));
  });
}

/** The number of the last transaction in `db` (0 for none). */
export function lastTransaction(db: Database.Database, table: 't' | 'songs'): number {
  return table === 't'
    ? ((db.prepare('SELECT max(id) FROM t').pluck().get() as number | null) ?? 0)
    : Number(((db.prepare("SELECT max(id) FROM songs WHERE id LIKE 'W%'").pluck().get() as string | null) ?? 'W0').slice(1));
}

function main(path: string, table: 't' | 'songs'): void {
  const db = new Database(path, { timeout: 5000 });
  db.pragma('synchronous = NORMAL');
  if (db.pragma('journal_mode', { simple: true }) !== 'wal') throw new Error('not a WAL database');
  const tx = writerTransaction(db, table);
  const counts: WriterCounts = { commits: 0, checkpoints: 0, copied: 0, heldOff: 0 };
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  let n = lastTransaction(db, table);
  const first = n + 1;
  const step = (): void => {
    // A few transactions per turn of the event loop, so that SIGTERM is seen.
    for (let i = 0; i < 6 && !stopping; i++) {
      tx(++n);
      counts.commits++;
      if (n === first) process.stdout.write('ready\n');
      if (n % 3 === 0) {
        // RESTART and TRUNCATE wait (busy handler) for readers: only briefly, so writes go on.
        db.pragma('busy_timeout = 20');
        const [r] = db.pragma(`wal_checkpoint(${MODES[(n / 3) % MODES.length]!})`) as { busy: number; log: number; checkpointed: number }[];
        db.pragma('busy_timeout = 5000');
        counts.checkpoints++;
        if (r!.checkpointed > 0) counts.copied++;
        if (r!.busy !== 0 || r!.checkpointed < r!.log) counts.heldOff++;
      }
    }
    if (stopping) {
      db.close();
      process.stdout.write(`${JSON.stringify(counts)}\n`, () => process.exit(0));
      return;
    }
    setImmediate(step);
  };
  step();
}

/** The writer process on the database file `path`, started (its first transaction committed); stop() answers its counts. */
export async function startWriter(path: string, table: 't' | 'songs'): Promise<{ child: ChildProcess; stop(): Promise<WriterCounts> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), path, table], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const deadline = Date.now() + 10_000;
  while (!out.includes('ready\n')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`the writer did not start: ${err}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return {
    child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`the writer failed (${code}): ${err}`);
      return JSON.parse(out.trim().split('\n').pop()!) as WriterCounts;
    },
  };
}

if (process.argv[1] && /wal-writer\.js$/.test(process.argv[1])) {
  main(process.argv[2]!, (process.argv[3] ?? 't') as 't' | 'songs');
}
