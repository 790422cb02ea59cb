/**
 * Round trip: what the transport and the read path cost over the floor, as the host sees it.
 * Baselines measured in the same run, taking turns with the sidecar (one at a time: request by
 * request; pipelined: burst by burst), in rounds:
 *   - system.ping vs the pipe server (bench/lib.ts PIPE_SERVER: reads lines, answers a fixed result);
 *   - songs.get vs the floor server (bench/lib.ts FLOOR_SERVER: the same row read with
 *     better-sqlite3 from the same data.db, the stored JSON spliced into the answer as text, one
 *     write per answer), for a song with ~8 KB and one with ~200 KB of sections,
 *     one at a time (send, wait for the answer) and pipelined (1,000 requests sent at once, timed
 *     until the last answer; per request = total / 1,000).
 * Goal (issue 14): each ≤ 1.2x its baseline.
 *
 *   npm run bench:roundtrip [-- --requests 2000] [-- --bin dist-bin/whiteroom-store]
 */
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchSong, figure, FLOOR_SERVER, Peer, PIPE_SERVER, QUICK, report, timeBursts, timeRequests, type Figure } from './lib.js';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: QUICK ? '300' : '2000' }, bin: { type: 'string' } },
});
/** Requests one at a time per subject (small answers; a quarter of it for the big song). */
const N = Number(values.requests);
const ROUNDS = QUICK ? 2 : 5;
/** Requests in flight in a pipelined burst, and bursts per round. */
const IN_FLIGHT = 1000;
const BURSTS = QUICK ? 1 : 3;
const GOAL = { max: 1.2 };
const SIZES = [
  { key: '8K', label: '~8 KB', bytes: 8_000, share: 1 },
  { key: '200K', label: '~200 KB', bytes: 200_000, share: 0.25 },
];

/**
 * CPU time a process has run, in ns, all its threads (Linux: /proc/PID/task/TID/schedstat), or
 * undefined where there is no such file.
 */
function cpuNs(peer: Peer): number | undefined {
  const tasks = `/proc/${peer.child.pid}/task`;
  if (!existsSync(tasks)) return undefined;
  let ns = 0;
  for (const t of readdirSync(tasks)) {
    try {
      ns += Number(readFileSync(`${tasks}/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* a thread that ended */
    }
  }
  return ns;
}

const dir = mkdtempSync(join(tmpdir(), 'wr-bench-rt-'));
const bin = values.bin ? [resolve(values.bin)] : [process.execPath, resolve('dist', 'src', 'main.js')];
const sidecar = Peer.spawn(bin[0]!, [...bin.slice(1), '--data-dir', join(dir, 'data'), '--log-level', 'warn']);
const pipe = Peer.spawn(process.execPath, ['-e', PIPE_SERVER]);
let floor: Peer | undefined;


try {
  for (const s of SIZES) {
    const saved = JSON.parse(
      await sidecar.ask(JSON.stringify({ jsonrpc: '2.0', id: `save-${s.key}`, method: 'songs.save', params: { item: benchSong(`S${s.key}`, s.bytes) } })),
    ) as { error?: unknown };
    if (saved.error) throw new Error(`songs.save failed: ${JSON.stringify(saved.error)}`);
  }
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  floor = Peer.spawn(process.execPath, ['-e', FLOOR_SERVER, sqlite, join(dir, 'data', 'data.db')]);

  const ping = (i: number): string => `{"jsonrpc":"2.0","id":${i},"method":"system.ping"}`;
  const get = (id: string) => (i: number): string => `{"jsonrpc":"2.0","id":${i},"method":"songs.get","params":{"id":"${id}"}}`;

  // The floor answers what the sidecar answers, byte for byte: same work, not a cheaper answer.
  const bytes: Record<string, number> = {};
  for (const s of SIZES) {
    const a = await sidecar.ask(get(`S${s.key}`)(1));
    const b = await floor.ask(get(`S${s.key}`)(1));
    if (a !== b) throw new Error(`the floor server's answer differs from the sidecar's for S${s.key}:\n${a.slice(0, 300)}\n${b.slice(0, 300)}`);
    bytes[s.key] = Buffer.byteLength(a);
  }

  const r: Record<string, number[]> = {};
  const add = (key: string, xs: number[]): void => void (r[key] ??= []).push(...xs);
  /**
   * One at a time, the baseline and the sidecar take turns request by request (the machine is
   * shared and its load changes by the second: both see the same), the first of each pair alternating.
   */
  const oneByOne = async (bk: string, base: Peer, sk: string, subject: Peer, make: (i: number) => string, n: number): Promise<void> => {
    const cpu0 = [cpuNs(base), cpuNs(subject)];
    for (let i = 0; i < n; i++) {
      const [first, second] = i % 2 === 0 ? ([[bk, base], [sk, subject]] as const) : ([[sk, subject], [bk, base]] as const);
      add(first[0], await timeRequests(first[1], make, 1));
      add(second[0], await timeRequests(second[1], make, 1));
    }
    // CPU time per request of each process: what the load of the machine hardly changes.
    if (cpu0[0] !== undefined) {
      add(`cpu-${bk}`, [(cpuNs(base)! - cpu0[0]) / n / 1e3]);
      add(`cpu-${sk}`, [(cpuNs(subject)! - cpu0[1]!) / n / 1e3]);
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    await oneByOne('pipe', pipe, 'ping', sidecar, ping, Math.ceil(N / ROUNDS));
    for (const s of SIZES) {
      const g = get(`S${s.key}`);
      await oneByOne(`floor1-${s.key}`, floor, `get1-${s.key}`, sidecar, g, Math.ceil((N * s.share) / ROUNDS));
      // Pipelined: burst by burst, the first alternating by round.
      for (let b = 0; b < BURSTS; b++) {
        const pair: [string, Peer][] = [[`floorN-${s.key}`, floor], [`getN-${s.key}`, sidecar]];
        if ((round + b) % 2 === 1) pair.reverse();
        for (const [key, peer] of pair) add(key, await timeBursts(peer, g, IN_FLIGHT, 1));
      }
    }
  }

  const figures: Figure[] = [
    figure('pipe server, ping', 'µs', r.pipe!),
    figure('system.ping', 'µs', r.ping!, { baseline: 'pipe server', samples: r.pipe!, goal: GOAL }),
  ];
  for (const s of SIZES) {
    const kb = `${(bytes[s.key]! / 1024).toFixed(0)} KiB answer`;
    figures.push(
      figure(`floor, songs.get ${s.label}, one at a time`, 'µs', r[`floor1-${s.key}`]!),
      figure(`songs.get ${s.label} (${kb}), one at a time`, 'µs', r[`get1-${s.key}`]!, {
        baseline: 'floor server',
        samples: r[`floor1-${s.key}`]!,
        goal: GOAL,
      }),
      figure(`floor, songs.get ${s.label}, ${IN_FLIGHT} in flight (per request)`, 'µs', r[`floorN-${s.key}`]!),
      figure(`songs.get ${s.label}, ${IN_FLIGHT} in flight (per request)`, 'µs', r[`getN-${s.key}`]!, {
        baseline: 'floor server',
        samples: r[`floorN-${s.key}`]!,
        goal: GOAL,
      }),
    );
  }
  if (r['cpu-ping']) {
    // Informational (the goal is on the round trip): CPU time per request, the median of the rounds.
    figures.push(figure('CPU per request: system.ping', 'µs', r['cpu-ping'], { baseline: 'pipe server', samples: r['cpu-pipe']! }));
    for (const s of SIZES) {
      figures.push(
        figure(`CPU per request: songs.get ${s.label}, one at a time`, 'µs', r[`cpu-get1-${s.key}`]!, {
          baseline: 'floor server',
          samples: r[`cpu-floor1-${s.key}`]!,
        }),
      );
    }
  }
  report({
    bench: 'roundtrip',
    setup: `${N} pings and ${N} / ${N / 4} gets one at a time, ${BURSTS * ROUNDS} bursts of ${IN_FLIGHT}, ${ROUNDS} rounds; target ${bin.join(' ')}`,
    figures,
  });
} finally {
  pipe.child.kill();
  floor?.child.kill();
  await sidecar.close();
  rmSync(dir, { recursive: true, force: true });
}
