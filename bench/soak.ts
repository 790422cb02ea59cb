/**
 * Soak: a mixed workload against the real sidecar for N minutes, printing throughput, latency
 * percentiles, memory and WAL size over time.
 *
 *   npm run soak -- --minutes 10 [--seed 7] [--concurrency 4] [--data-dir DIR]
 *
 * The workload keeps `--concurrency` requests in flight (a closed loop): creates, updates, gets,
 * lists, searches, autosave stages and flushes, deletes (the library stays near TARGET_SONGS
 * songs, so a growing memory or WAL is a leak and not more data), and a backup every
 * BACKUP_EVERY_MS (pruned to the newest BACKUPS_KEPT). Every SAMPLE_MS it samples the sidecar's
 * RssAnon (/proc/<pid>/status: its own heap and native memory, not the page cache or the
 * database's memory map) and the size of data.db-wal.
 *
 * The measured process runs without NODE_EXTRA_CA_CERTS (loading extra certificates costs
 * memory that is not the sidecar's).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Peer } from './lib.js';
import { seededRandom } from '../test/helpers/random.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN_JS = join(ROOT, 'dist', 'src', 'main.js');

/** Songs the library stays near: creates above it turn into deletes. */
export const TARGET_SONGS = 300;
export const SAMPLE_MS = 1000;
export const BACKUP_EVERY_MS = 15_000;
export const BACKUPS_KEPT = 3;
/** Bytes of padding per song: a few MB of library. */
const PAD_BYTES = 8_000;

export interface SoakOptions {
  minutes: number;
  seed?: number;
  concurrency?: number;
  /** Data directory; a temporary one (removed afterwards) when omitted. */
  dataDir?: string;
  /** Called with each sample as it is taken (the command prints them). */
  onSample?: (s: Sample) => void;
}

export interface Sample {
  /** Seconds since the workload started. */
  t: number;
  /** Requests answered in this sample's period, per second. */
  opsPerSec: number;
  rssAnonKiB: number;
  walBytes: number;
}

export interface SoakReport {
  seed: number;
  seconds: number;
  requests: number;
  errors: string[];
  opsPerSec: number;
  /** Per method and overall ('*'): answered count and latency percentiles, ms. */
  latency: Record<string, { n: number; p50: number; p99: number; max: number }>;
  samples: Sample[];
}


const WORDS = ['blue', 'green', 'moon', 'river', 'train', 'night', 'autumn', 'leaves', 'steps', 'giant', 'waltz', 'samba'];

const percentile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

/** The sidecar's anonymous resident memory (heap and native allocations), KiB. */
export function rssAnonKiB(pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const seed = options.seed ?? 1;
  const random = seededRandom(seed);
  const concurrency = options.concurrency ?? 4;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'wr-soak-'));
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const child = spawn(process.execPath, [MAIN_JS, '--data-dir', dataDir, '--log-level', 'warn', '--auto-backup-hours', '0'], { env });
  const peer = new Peer(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()).length > 100_000 && (stderr = stderr.slice(-50_000)));
  const walPath = join(dataDir, 'data.db-wal');

  let nextId = 0;
  const latencies = new Map<string, number[]>();
  const errors: string[] = [];
  let answered = 0;
  const ask = async (method: string, params: object): Promise<any> => {
    const id = ++nextId;
    const t0 = performance.now();
    const line = await peer.ask(JSON.stringify({ jsonrpc: '2.0', id, method, params }), id);
    const ms = performance.now() - t0;
    answered++;
    (latencies.get(method) ?? latencies.set(method, []).get(method)!).push(ms);
    const r = JSON.parse(line) as { result?: any; error?: { code: number; message: string } };
    if (r.error) {
      if (errors.length < 20) errors.push(`${method}: ${r.error.code} ${r.error.message}`);
      return undefined;
    }
    return r.result;
  };

  /** Ids of the songs in the library (the workload's own bookkeeping). */
  const songs: string[] = [];
  let made = 0;
  const song = (id: string, n: number): object => ({
    id,
    name: `${WORDS[n % WORDS.length]} ${WORDS[(n * 7) % WORDS.length]} ${n}`,
    metadata: { tempo: 60 + (n % 120), timeSignature: [4, 4], tags: [WORDS[n % 5]!], composer: 'Soak', genre: 'jazz' },
    determinismSeed: `seed-${n}`,
    sections: [{ id: 'a', bars: 8, n, pad: 'x'.repeat(PAD_BYTES) }],
    roles: [],
    projections: [],
    mixGraph: { tracks: [], buses: [] },
  });
  const anySong = (): string => songs[Math.floor(random() * songs.length)]!;

  /** One request of the mix. */
  async function step(): Promise<void> {
    const x = random();
    if (songs.length < 10 || (x < 0.15 && songs.length < TARGET_SONGS)) {
      const id = `soak-${++made}`;
      if (await ask('songs.create', { item: song(id, made) })) songs.push(id);
    } else if (x < 0.2) {
      // Delete (also what a create turns into at the target size).
      const id = songs.splice(Math.floor(random() * songs.length), 1)[0]!;
      await ask('songs.delete', { id });
    } else if (x < 0.35) {
      const id = anySong();
      await ask('songs.update', { item: song(id, Math.floor(random() * 1e6)) });
    } else if (x < 0.55) {
      await ask('songs.get', { id: anySong() });
    } else if (x < 0.65) {
      await ask('songs.list', { limit: 20, orderBy: random() < 0.5 ? 'updatedAt' : 'name' });
    } else if (x < 0.75) {
      await ask('songs.search', { query: WORDS[Math.floor(random() * WORDS.length)]! });
    } else if (x < 0.97) {
      const songId = anySong();
      await ask('autosave.stage', { songId, snapshot: { song: song(songId, Math.floor(random() * 1e6)), state: { at: Date.now() } } });
    } else {
      await ask('autosave.flush', {});
    }
  }

  const samples: Sample[] = [];
  const start = performance.now();
  const endAt = start + options.minutes * 60_000;
  let lastSampleAt = start;
  let lastAnswered = 0;
  const sample = (): void => {
    const now = performance.now();
    let walBytes = 0;
    try {
      walBytes = statSync(walPath).size;
    } catch {
      /* no WAL yet */
    }
    const s: Sample = {
      t: Math.round((now - start) / 100) / 10,
      opsPerSec: Math.round(((answered - lastAnswered) * 1000) / (now - lastSampleAt)),
      rssAnonKiB: rssAnonKiB(child.pid!),
      walBytes,
    };
    lastAnswered = answered;
    lastSampleAt = now;
    samples.push(s);
    options.onSample?.(s);
  };
  const sampler = setInterval(sample, SAMPLE_MS);

  // An occasional backup, beside the queue like a host's, then pruned.
  let backups = Promise.resolve();
  const backupTimer = setInterval(() => {
    backups = backups.then(async () => {
      if (await ask('backup.create', { label: 'soak' })) await ask('backup.prune', { keep: BACKUPS_KEPT });
    });
  }, BACKUP_EVERY_MS);

  try {
    await ask('system.ping', {});
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < endAt && child.exitCode === null) await step();
      }),
    );
    clearInterval(backupTimer);
    await backups;
    sample();
  } finally {
    clearInterval(sampler);
    clearInterval(backupTimer);
    if (child.exitCode === null) await peer.close();
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
  if (child.exitCode !== 0) errors.push(`the sidecar exited with ${child.exitCode}: ${stderr.slice(-2000)}`);

  const seconds = (performance.now() - start) / 1000;
  const latency: SoakReport['latency'] = {};
  const all: number[] = [];
  for (const [method, xs] of latencies) {
    xs.sort((a, b) => a - b);
    for (const x of xs) all.push(x);
    latency[method] = { n: xs.length, p50: percentile(xs, 0.5), p99: percentile(xs, 0.99), max: xs[xs.length - 1] ?? 0 };
  }
  all.sort((a, b) => a - b);
  latency['*'] = { n: all.length, p50: percentile(all, 0.5), p99: percentile(all, 0.99), max: all[all.length - 1] ?? 0 };
  return { seed, seconds, requests: answered, errors, opsPerSec: answered / seconds, latency, samples };
}

/**
 * Whether memory or the WAL keep growing: the median RssAnon of the last quarter of the samples
 * against that of the second quarter (the first is warm-up), with a margin for the garbage
 * collector's swings; the WAL against a multiple of the checkpoint threshold.
 */
export function growth(samples: Sample[], walLimitBytes: number): { rssSecondQuarterKiB: number; rssLastQuarterKiB: number; rssGrowing: boolean; walMaxBytes: number; walTooLarge: boolean } {
  const q = Math.floor(samples.length / 4);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const second = median(samples.slice(q, 2 * q).map((s) => s.rssAnonKiB));
  const last = median(samples.slice(samples.length - q).map((s) => s.rssAnonKiB));
  const walMaxBytes = Math.max(0, ...samples.map((s) => s.walBytes));
  return {
    rssSecondQuarterKiB: second,
    rssLastQuarterKiB: last,
    // 15% and 16 MiB: a V8 heap swings by several MB between collections.
    rssGrowing: last > second * 1.15 + 16 * 1024,
    walMaxBytes,
    walTooLarge: walMaxBytes > walLimitBytes,
  };
}

const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);

async function main(): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i === -1 ? undefined : process.argv[i + 1];
  };
  const minutes = Number(arg('minutes') ?? 1);
  if (!(minutes > 0)) throw new Error('--minutes expects a positive number');
  const seed = Number(arg('seed') ?? 1);
  console.log(`soak: ${minutes} min, seed ${seed}, concurrency ${arg('concurrency') ?? 4}`);
  console.log('     t  ops/s  RssAnon MiB  WAL MiB');
  let printed = -1;
  const report = await runSoak({
    minutes,
    seed,
    concurrency: Number(arg('concurrency') ?? 4),
    dataDir: arg('data-dir'),
    onSample: (s) => {
      // One line per ten seconds (every sample in a run of a minute or less).
      if (Math.floor(s.t / 10) !== printed || minutes <= 1) {
        printed = Math.floor(s.t / 10);
        console.log(`${String(Math.round(s.t)).padStart(6)}  ${String(s.opsPerSec).padStart(5)}  ${(s.rssAnonKiB / 1024).toFixed(1).padStart(11)}  ${mib(s.walBytes).padStart(7)}`);
      }
    },
  });
  console.log(`\n${report.requests} requests in ${report.seconds.toFixed(0)} s: ${report.opsPerSec.toFixed(0)} per second`);
  console.log('method               n      p50 ms   p99 ms   max ms');
  for (const [method, l] of Object.entries(report.latency).sort()) {
    console.log(`${method.padEnd(18)} ${String(l.n).padStart(6)} ${l.p50.toFixed(2).padStart(8)} ${l.p99.toFixed(2).padStart(8)} ${l.max.toFixed(1).padStart(8)}`);
  }
  const g = growth(report.samples, 2 * 8192 * 4096);
  console.log(
    `RssAnon median: second quarter ${(g.rssSecondQuarterKiB / 1024).toFixed(1)} MiB, last quarter ${(g.rssLastQuarterKiB / 1024).toFixed(1)} MiB` +
      `${g.rssGrowing ? ' (GROWING)' : ''}; WAL max ${mib(g.walMaxBytes)} MiB${g.walTooLarge ? ' (TOO LARGE)' : ''}`,
  );
  if (report.errors.length) {
    console.log(`errors:\n  ${report.errors.join('\n  ')}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
