/**
 * Growth: does the sidecar stay as fast, and as small, as the library grows? On libraries of
 * 1,000, 10,000, 100,000 and 1,000,000 songs (bench/library.ts; `--quick`: up to 50,000), through
 * the sidecar process, one request at a time:
 *   - songs.get of a random song,
 *   - a page of songs.list (50 summaries by name, from a random place: a cursor walk),
 *   - songs.search of a rare word (a first page of 50),
 * each as a median and p99, and its ratio to the same figure at 1,000 songs (goal ≤ 1.3x: flat).
 * The sizes alternate in rounds (every size's sidecar is open at once), so machine load falls on
 * all of them alike.
 *
 * Memory: the sidecar's peak anonymous memory (RssAnon: heap, buffers and SQLite's page cache, not
 * the memory-mapped file) while it lists the library page by page, searches, reads 1,000 songs and
 * makes a backup, sampled every 5 ms from /proc. Goal: at 1,000,000 songs within 1.2x of the
 * figure at 100,000, and under 200 MiB.
 *
 *   npm run bench:growth [-- --sizes 1000,10000,100000,1000000] [-- --bin dist-bin/whiteroom-store]
 */
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { figure, Peer, QUICK, report, request, result, stats, type Figure, type Series } from './lib.js';
import { libraryDir, songIdOf, WORDS } from './library.js';

const { values } = parseArgs({ options: { sizes: { type: 'string' }, bin: { type: 'string' }, rounds: { type: 'string' } } });
const SIZES = (values.sizes ?? (QUICK ? '1000,10000,50000' : '1000,10000,100000,1000000')).split(',').map(Number);
const ROUNDS = Number(values.rounds ?? (QUICK ? 3 : 5));
const PER_ROUND = QUICK ? 30 : 100;
const bin = values.bin ? [resolve(values.bin)] : [process.execPath, resolve('dist', 'src', 'main.js')];

const MiB = 1024 * 1024;
const rssAnon = (pid: number): number => {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
};

/** Samples RssAnon of `pid` every 5 ms while `work` runs; answers the peak. */
async function peakDuring(pid: number, work: () => Promise<void>): Promise<number> {
  let peak = rssAnon(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssAnon(pid))), 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, rssAnon(pid));
}

const say = (line: string): void => void process.stderr.write(`${line}\n`);

interface Subject {
  size: number;
  dir: string;
  peer: Peer;
  get: number[];
  page: number[];
  search: number[];
  /** Cursors into the name order, from a walk at start: a page from anywhere in the library. */
  cursors: string[];
}

const ask = async (peer: Peer, method: string, params: object): Promise<Record<string, unknown>> => result(await peer.ask(request(method, params)));

async function timed(peer: Peer, method: string, params: object): Promise<number> {
  const t = performance.now();
  await ask(peer, method, params);
  return performance.now() - t;
}

const subjects: Subject[] = [];
try {
  for (const size of SIZES) {
    const dir = await libraryDir(size, say);
    const peer = Peer.spawn(bin[0]!, [...bin.slice(1), '--data-dir', dir, '--log-level', 'warn', '--auto-backup-hours', '0']);
    const s: Subject = { size, dir, peer, get: [], page: [], search: [], cursors: [] };
    // Cursors at 20 places spread over the name order: a walk of summaries, keeping every k-th.
    let cursor: string | undefined;
    const every = Math.max(1, Math.floor(size / 50 / 20));
    for (let p = 0; ; p++) {
      const r = await ask(peer, 'songs.list', { limit: 50, orderBy: 'name', view: 'summary', ...(cursor ? { cursor } : {}) });
      cursor = r.nextCursor as string | undefined;
      if (!cursor) break;
      if (p % every === 0) s.cursors.push(cursor);
      if (s.cursors.length >= 20) break;
    }
    subjects.push(s);
  }

  let seed = 1;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of subjects) {
      for (let i = 0; i < PER_ROUND; i++) s.get.push(await timed(s.peer, 'songs.get', { id: songIdOf(1 + rand(s.size)) }));
      for (let i = 0; i < PER_ROUND; i++) {
        s.page.push(await timed(s.peer, 'songs.list', { limit: 50, orderBy: 'name', view: 'summary', cursor: s.cursors[rand(s.cursors.length)] }));
      }
      for (let i = 0; i < PER_ROUND; i++) s.search.push(await timed(s.peer, 'songs.search', { query: WORDS.rare, limit: 50 }));
    }
  }

  // Memory, one size after another (each sidecar alone on the machine's memory bandwidth).
  const peaks = new Map<number, number>();
  for (const s of subjects) {
    const pid = s.peer.child.pid!;
    const peak = await peakDuring(pid, async () => {
      let cursor: string | undefined;
      for (let p = 0; p < (QUICK ? 100 : 400); p++) {
        const r = await ask(s.peer, 'songs.list', { limit: 200, orderBy: 'name', ...(cursor ? { cursor } : {}) });
        cursor = r.nextCursor as string | undefined;
        if (!cursor) break;
      }
      for (const q of [WORDS.common, WORDS.medium, 'song', 'night river']) await ask(s.peer, 'songs.search', { query: q, limit: 200 });
      for (let i = 0; i < 1000; i++) await ask(s.peer, 'songs.get', { id: songIdOf(1 + rand(s.size)) });
      if (!QUICK || s.size <= 100_000) await ask(s.peer, 'backup.create', {});
    });
    peaks.set(s.size, peak);
  }

  const base = subjects[0]!;
  const figures: Figure[] = [];
  const series: Series[] = [];
  for (const [key, label] of [
    ['get', 'songs.get'],
    ['page', 'songs.list page (50 summaries by name)'],
    ['search', `songs.search "${WORDS.rare}" (first page)`],
  ] as const) {
    series.push({ name: label, unit: 'ms', points: subjects.map((s) => ({ x: s.size, ...stats(s[key]) })) });
    for (const s of subjects.slice(1)) {
      figures.push(
        figure(`${label} at ${s.size.toLocaleString('en')}`, 'ms', s[key], {
          baseline: `at ${base.size.toLocaleString('en')}`,
          samples: base[key],
          goal: { max: 1.3 },
        }),
      );
    }
  }
  for (const s of subjects) figures.push({ name: `peak RssAnon at ${s.size.toLocaleString('en')} songs`, unit: 'MiB', median: peaks.get(s.size)! / MiB, goal: '< 200 MiB', met: peaks.get(s.size)! < 200 * MiB });
  const big = subjects.at(-1)!;
  const ref = subjects.find((s) => s.size === 100_000);
  if (ref && big !== ref) {
    const ratio = peaks.get(big.size)! / peaks.get(ref.size)!;
    figures.push({
      name: `peak RssAnon at ${big.size.toLocaleString('en')} over 100,000`,
      unit: 'x',
      median: ratio,
      ratio,
      baseline: 'at 100,000',
      goal: '≤ 1.2x',
      met: ratio <= 1.2,
    });
  }
  series.push({ name: 'peak RssAnon', unit: 'MiB', points: subjects.map((s) => ({ x: s.size, median: peaks.get(s.size)! / MiB })) });
  report({
    bench: 'growth',
    setup: `libraries of ${SIZES.map((n) => n.toLocaleString('en')).join(', ')} songs; ${ROUNDS} rounds of ${PER_ROUND} requests each, one at a time; target ${bin.join(' ')}`,
    figures,
    series,
  });
} finally {
  for (const s of subjects) {
    await s.peer.close();
    rmSync(join(s.dir, 'backups'), { recursive: true, force: true }); // the library is kept; its backups are not
  }
}
