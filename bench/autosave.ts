/**
 * The cost of autosave.stage, which a host calls on every edit, and how long a stage holds up the
 * requests behind it. Baselines measured in the same run, interleaved in rounds:
 *   - the layer-free pipe server answering the same 1 MB request (transport and JSON.parse),
 *   - the same write in-process: JSON.stringify plus one upsert transaction with better-sqlite3
 *     on a database with the store's pragmas.
 * Medians.
 *
 *   npm run bench:autosave [-- --rounds 40] [-- --bin dist-bin/whiteroom-store]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/store/database.js';
import { benchSong, figure, median, Peer, PIPE_SERVER, QUICK, report, request, since, timeRequests } from './lib.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: QUICK ? '10' : '40' }, bin: { type: 'string' } } });
const ROUNDS = Number(values.rounds);

const dir = mkdtempSync(join(tmpdir(), 'wr-bench-as-'));
const bin = values.bin ? [resolve(values.bin)] : [process.execPath, resolve('dist', 'src', 'main.js')];
const sidecar = Peer.spawn(bin[0]!, [...bin.slice(1), '--data-dir', join(dir, 'data'), '--log-level', 'warn']);
const pipe = Peer.spawn(process.execPath, ['-e', PIPE_SERVER]);

const big = benchSong('S0', 1024 * 1024);
const small = benchSong('S0', 2 * 1024);
let edits = 0;
/** Each stage differs (a changed name), as edits do. */
const stage = (song: Record<string, unknown>): string =>
  request('autosave.stage', { songId: 'S0', snapshot: { song: { ...song, name: `Edit ${++edits}` } } });
const ping = (): string => request('system.ping', {});

try {
  await sidecar.ask(request('songs.save', { item: big }));
  // Promotions only when asked: the benchmark times stage, then flush, separately.
  await sidecar.ask(request('autosave.configure', { debounceMs: 3_600_000, intervalMs: 86_400_000 }));
  const bigBytes = Buffer.byteLength(stage(big));

  // In-process: the same write with better-sqlite3 directly.
  const db = openDatabase(join(dir, 'inproc.db'));
  db.exec('CREATE TABLE staging (scope TEXT PRIMARY KEY, snapshot_json TEXT NOT NULL, staged_at INTEGER NOT NULL) STRICT');
  const upsert = db.prepare(
    'INSERT INTO staging VALUES (?, ?, ?) ON CONFLICT (scope) DO UPDATE SET snapshot_json = excluded.snapshot_json, staged_at = excluded.staged_at',
  );
  const tx = db.transaction((text: string) => upsert.run('S0', text, Date.now()));

  const r: Record<string, number[]> = { pipe: [], inproc: [], stage: [], small: [], ping: [], held: [], carried: [], flush: [] };
  /** The latency of a ping written right behind `first` (both sent at once). */
  const pingBehind = async (first: string): Promise<number> => {
    const p = ping();
    const pid = (JSON.parse(p) as { id: number }).id;
    const answered = sidecar.ask(first);
    const t = process.hrtime.bigint();
    await sidecar.ask(p, pid);
    const us = since(t);
    await answered;
    return us;
  };
  for (let round = 0; round < ROUNDS; round++) {
    const text = stage(big);
    r.pipe!.push(...(await timeRequests(pipe, () => text, 1)));
    {
      const t = process.hrtime.bigint();
      tx(JSON.stringify({ song: { ...big, name: `Edit ${round}` } }));
      r.inproc!.push(since(t));
    }
    r.stage!.push(...(await timeRequests(sidecar, () => stage(big), 1)));
    r.small!.push(...(await timeRequests(sidecar, () => stage(small), 1)));
    r.ping!.push(...(await timeRequests(sidecar, ping, 5)));
    // A ping written right behind a 1 MB stage, and right behind a message of the same size that
    // the sidecar reads and parses but does no work for (an unknown method): the difference is
    // the time the stage itself holds the queue.
    r.held!.push(await pingBehind(stage(big)));
    r.carried!.push(await pingBehind(stage(big).replace('"autosave.stage"', '"bench.nothing"')));
    await sidecar.ask(stage(big));
    r.flush!.push(...(await timeRequests(sidecar, () => request('autosave.flush', {}), 1)));
  }
  db.close();
  const ms = (us: number[]): number[] => us.map((u) => u / 1000);
  const floor = (median(r.pipe!) + median(r.inproc!)) / 1000;
  report({
    bench: 'autosave',
    setup: `${ROUNDS} rounds; a 1 MB stage request is ${(bigBytes / 1e6).toFixed(2)} MB; baseline: the pipe server reading the same request plus the in-process stringify and upsert; target ${bin.join(' ')}`,
    figures: [
      figure('pipe server, the same 1 MB request', 'ms', ms(r.pipe!)),
      figure('in-process stringify + upsert', 'ms', ms(r.inproc!)),
      figure('autosave.stage, 1 MB', 'ms', ms(r.stage!), { baseline: 'pipe + in-process', samples: floor }),
      figure('autosave.stage, 2 KB', 'ms', ms(r.small!)),
      figure('system.ping alone', 'ms', ms(r.ping!)),
      figure('system.ping behind a 1 MB message, no work (reading and parsing 1 MB)', 'ms', ms(r.carried!)),
      figure('system.ping behind a 1 MB stage', 'ms', ms(r.held!), { baseline: 'behind a 1 MB message, no work', samples: ms(r.carried!) }),
      figure('autosave.flush of a 1 MB state (snapshot + song save, one transaction)', 'ms', ms(r.flush!)),
    ],
  });
} finally {
  pipe.child.kill();
  await sidecar.close();
  rmSync(dir, { recursive: true, force: true });
}
