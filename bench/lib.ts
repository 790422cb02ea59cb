/**
 * What the benchmarks share: a peer speaking NDJSON JSON-RPC to a child process (answers matched
 * by id, so requests can be pipelined), the layer-free pipe server used as the transport
 * baseline, and medians.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFileSync } from 'node:fs';

/** The transport baseline: reads lines, parses each, answers with the id and a fixed result. */
export const PIPE_SERVER = `
let parts = [];
process.stdin.on('data', (chunk) => {
  let start = 0, nl;
  while ((nl = chunk.indexOf(10, start)) !== -1) {
    parts.push(chunk.subarray(start, nl));
    const line = Buffer.concat(parts).toString('utf8');
    parts = [];
    start = nl + 1;
    const id = JSON.parse(line).id;
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id, result: { pong: true, time: Date.now() } }) + '\\n');
  }
  if (start < chunk.length) parts.push(chunk.subarray(start));
});`;

/**
 * The floor of songs.get: a node child that reads NDJSON lines, JSON.parses each, reads the row
 * with better-sqlite3 (the same data.db, read-only, the store's cache and mmap pragmas) and answers
 * the song as the sidecar writes it, built the cheapest way a careful person would: scalar fields
 * by hand, the stored JSON columns spliced in as text (never parsed), one write per answer.
 * Arguments: the path of better-sqlite3 (require.resolve) and of data.db.
 */
export const FLOOR_SERVER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2], { readonly: true, fileMustExist: true });
db.pragma('cache_size = -64000');
db.pragma('mmap_size = 30000000000');
const get = db.prepare('SELECT * FROM songs WHERE id = ?');
const str = JSON.stringify;
// A member ",name:value" (JSON.stringify of the value), or nothing for null: the sidecar leaves an
// absent field out.
const member = (name, v) => (v === null ? '' : ',"' + name + '":' + str(v));
// A stored JSON column: its text as it is.
const raw = (name, text) => (text === null ? '' : ',"' + name + '":' + text);
function song(r) {
  const meta = member('tempo', r.tempo) +
    (r.time_signature_numerator === null ? '' : ',"timeSignature":[' + r.time_signature_numerator + ',' + r.time_signature_denominator + ']') +
    member('duration', r.duration_seconds) + member('key', r.key) + raw('tags', r.tags) +
    member('composer', r.composer) + member('genre', r.genre) + member('mood', r.mood) +
    member('comments', r.comments) + member('difficulty', r.difficulty) + member('rating', r.rating);
  return '{"id":' + str(r.id) + member('name', r.name) + member('version', r.version) +
    (meta ? ',"metadata":{' + meta.slice(1) + '}' : '') +
    member('determinismSeed', r.determinism_seed) + member('isFavorite', r.is_favorite === null ? null : r.is_favorite === 1) +
    member('playCount', r.play_count) + member('lastPlayedAt', r.last_played_at) +
    member('createdAt', r.created_at) + member('updatedAt', r.updated_at) + member('revision', r.revision) +
    raw('realizationPolicy', r.realization_policy_json) + raw('sections', r.sections_json) +
    raw('roles', r.roles_json) + raw('projections', r.projections_json) + raw('mixGraph', r.mix_graph_json) + '}';
}
let parts = [];
process.stdin.on('data', (chunk) => {
  let start = 0, nl;
  while ((nl = chunk.indexOf(10, start)) !== -1) {
    parts.push(chunk.subarray(start, nl));
    const line = Buffer.concat(parts).toString('utf8');
    parts = [];
    start = nl + 1;
    const m = JSON.parse(line);
    const row = get.get(m.params.id);
    process.stdout.write('{"jsonrpc":"2.0","id":' + str(m.id) + ',"result":' + song(row) + '}\\n');
  }
  if (start < chunk.length) parts.push(chunk.subarray(start));
});`;

/** The id of an answer line that starts as the sidecar's and the baselines' do; undefined otherwise. */
const ANSWER_ID = /^\{"jsonrpc":"2\.0","id":(-?\d{1,15}|"[^"\\]*")[,}]/;

export class Peer {
  /** The start of a line whose end has not arrived yet, in pieces (a big answer comes in many). */
  #parts: Buffer[] = [];
  readonly #waiting = new Map<number | string, (line: string) => void>();

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => {
      // Only the new chunk is searched for line ends: a 10 MB answer is not rescanned per chunk.
      let start = 0;
      let nl;
      while ((nl = chunk.indexOf(10, start)) !== -1) {
        this.#parts.push(chunk.subarray(start, nl));
        const line = Buffer.concat(this.#parts).toString('utf8');
        this.#parts = [];
        start = nl + 1;
        if (line.startsWith('{"jsonrpc":"2.0","method"')) continue; // notifications
        // The id from the start of the line when it is there: parsing a 200 KB answer only to find
        // its id would be most of what the peer does.
        const m = ANSWER_ID.exec(line.slice(0, 64));
        const id = m ? (JSON.parse(m[1]!) as number | string) : (JSON.parse(line) as { id: number | string }).id;
        const w = this.#waiting.get(id);
        this.#waiting.delete(id);
        w?.(line);
      }
      if (start < chunk.length) this.#parts.push(chunk.subarray(start));
    });
  }

  static spawn(command: string, args: string[], env?: NodeJS.ProcessEnv): Peer {
    return new Peer(spawn(command, args, { env: env ?? cleanEnv() }));
  }

  /** Sends one request (a JSON text with an `id`) and resolves with its answer line. */
  ask(json: string, id: number | string = (JSON.parse(json) as { id: number | string }).id): Promise<string> {
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.child.stdin.write(`${json}\n`);
    });
  }

  /**
   * Sends requests (JSON texts with distinct `id`s) in one write, all at once, and resolves with
   * their answer lines in the same order.
   */
  askMany(jsons: string[], ids: (number | string)[] = jsons.map((j) => (JSON.parse(j) as { id: number | string }).id)): Promise<string[]> {
    const answers = ids.map((id) => new Promise<string>((resolve) => this.#waiting.set(id, resolve)));
    this.child.stdin.write(`${jsons.join('\n')}\n`);
    return Promise.all(answers);
  }

  /** Closes stdin and waits for the exit. */
  async close(): Promise<void> {
    const exited = new Promise((done) => this.child.on('exit', done));
    this.child.stdin.end();
    await exited;
  }
}

let lastId = 0;

/** A JSON-RPC request text with the next id. */
export const request = (method: string, params: object = {}): string => JSON.stringify({ jsonrpc: '2.0', id: ++lastId, method, params });

/** The result of an answer line; throws its error. */
export function result(line: string): Record<string, unknown> {
  const r = JSON.parse(line) as { result?: Record<string, unknown>; error?: unknown };
  if (r.error) throw new Error(JSON.stringify(r.error));
  return r.result!;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

/** Microseconds since `t` (from process.hrtime.bigint()). */
export const since = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e3;

/** Times `n` requests sent one at a time; microseconds each. */
export async function timeRequests(peer: Peer, make: (i: number) => string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const json = make(i);
    const t = process.hrtime.bigint();
    await peer.ask(json);
    out.push(since(t));
  }
  return out;
}

/**
 * Times bursts of `n` requests sent at once (pipelined: `n` in flight); microseconds per request
 * (the time until the last answer, over `n`), one sample per burst. `make` gets distinct numbers.
 */
export async function timeBursts(peer: Peer, make: (i: number) => string, n: number, bursts: number): Promise<number[]> {
  const out: number[] = [];
  for (let b = 0; b < bursts; b++) {
    const jsons = Array.from({ length: n }, (_, i) => make(++burstIds));
    const ids = jsons.map((j) => (JSON.parse(j) as { id: number | string }).id);
    const t = process.hrtime.bigint();
    await peer.askMany(jsons, ids);
    out.push(since(t) / n);
  }
  return out;
}
let burstIds = 1e9;

/** A song as the contract takes it, with `sectionsBytes` of section data (about). */
export function benchSong(id: string, sectionsBytes = 0): Record<string, unknown> {
  const sections: object[] = [{ id: 's', bars: 8 }];
  // Each note event is ~60 bytes of JSON: a realistic shape for a big arrangement.
  for (let i = 0; sections.length * 60 < sectionsBytes; i++) {
    sections.push({ id: `n${i}`, pitch: 60 + (i % 24), start: i * 0.25, length: 0.25, velocity: 96 });
  }
  return {
    id,
    name: `Song ${id}`,
    metadata: { tempo: 120, timeSignature: [4, 4], tags: ['bench'] },
    determinismSeed: '1',
    sections,
    roles: [{ id: 'r', name: 'Bass', type: 'bass', generatorConfig: {}, parameters: {} }],
    projections: [],
    mixGraph: { tracks: [{ id: 't', name: 'T', volume: 1, pan: 0, mute: false, solo: false }] },
  };
}

// ---------------------------------------------------------------------------------------------
// Reporting: what `npm run bench` (bench/run.ts) collects from every benchmark.
// ---------------------------------------------------------------------------------------------

/** One measured figure: the median (and p99) of a subject, and its ratio to a baseline of the same run. */
export interface Figure {
  /** What was measured: "songs.get, one at a time". */
  name: string;
  unit: 'ms' | 'µs' | 'MiB' | 'MB' | 'MB/s' | 'x' | 'count';
  median: number;
  p99?: number;
  /** Samples behind the median. */
  n?: number;
  /** The baseline this is compared with, measured in the same run: "floor server". */
  baseline?: string;
  /** Median of the subject over median of the baseline. */
  ratio?: number;
  /** The goal, as text (`≤ 1.2x`, `≥ 50x`, `< 200 MiB`), and whether this run met it. */
  goal?: string;
  met?: boolean;
}

/** A series of a growth curve: a figure at each library size (drawn in docs/PERFORMANCE.md's chart). */
export interface Series {
  name: string;
  unit: Figure['unit'];
  points: { x: number; median: number; p99?: number }[];
  /** Whether docs/performance-growth.svg draws it (default true; a bench with many keeps its chart readable). */
  chart?: boolean;
}

export interface BenchReport {
  bench: string;
  /** What the bench measured on, in a line: "2,000 requests, 5 rounds; target dist-bin/whiteroom-store". */
  setup: string;
  figures: Figure[];
  series?: Series[];
}

/** The median, p99 and count of samples. */
export function stats(xs: number[]): { median: number; p99: number; n: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return { median: median(s), p99: at(0.99), n: s.length };
}

/** A figure from samples, with its ratio to a baseline's samples and a goal on that ratio. */
export function figure(
  name: string,
  unit: Figure['unit'],
  samples: number[],
  against?: { baseline: string; samples: number[] | number; goal?: { max?: number; min?: number } },
): Figure {
  const s = stats(samples);
  const f: Figure = { name, unit, median: s.median, p99: s.p99, n: s.n };
  if (against) {
    const base = typeof against.samples === 'number' ? against.samples : median(against.samples);
    f.baseline = against.baseline;
    f.ratio = s.median / base;
    const g = against.goal;
    if (g?.max !== undefined) {
      f.goal = `≤ ${g.max}x`;
      f.met = f.ratio <= g.max;
    } else if (g?.min !== undefined) {
      // A speed-up: the baseline over the subject.
      f.ratio = base / s.median;
      f.goal = `≥ ${g.min}x`;
      f.met = f.ratio >= g.min;
    }
  }
  return f;
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/**
 * Prints the report as a table and, when `WR_BENCH_JSON` names a file (bench/run.ts sets it),
 * appends it there as one JSON line.
 */
export function report(r: BenchReport): void {
  console.log(`${r.bench}: ${r.setup}`);
  const w = Math.max(...r.figures.map((f) => f.name.length), 10);
  for (const f of r.figures) {
    const ratio =
      f.ratio === undefined ? '' : `   ${fmt(f.ratio)}x ${f.goal?.startsWith('≥') ? 'faster than' : 'of'} ${f.baseline}${f.goal ? ` (goal ${f.goal}: ${f.met ? 'met' : 'NOT met'})` : ''}`;
    const p99 = f.p99 === undefined ? '' : `  p99 ${fmt(f.p99)}`;
    const goal = f.ratio === undefined && f.goal ? `   (goal ${f.goal}: ${f.met ? 'met' : 'NOT met'})` : '';
    console.log(`  ${f.name.padEnd(w)}  ${fmt(f.median).padStart(8)} ${f.unit}${p99}${ratio}${goal}`);
  }
  for (const s of r.series ?? []) {
    console.log(`  ${s.name} (${s.unit}): ${s.points.map((p) => `${p.x.toLocaleString('en')}: ${fmt(p.median)}`).join(', ')}`);
  }
  const file = process.env.WR_BENCH_JSON;
  if (file) appendFileSync(file, `${JSON.stringify(r)}\n`);
}

/** True under `npm run bench -- --quick` (bench/run.ts sets WR_BENCH_QUICK=1): smaller, fewer runs. */
export const QUICK = process.env.WR_BENCH_QUICK === '1';

/**
 * The environment measured processes run in: PATH, HOME and TMPDIR only. This machine sets
 * NODE_EXTRA_CA_CERTS, which adds about 38 ms to every Node start (the baseline's too) and hides
 * start-up costs; NODE_OPTIONS and the like would change what is measured.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}
