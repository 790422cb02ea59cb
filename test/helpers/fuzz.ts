/**
 * The fuzzer: requests derived from rpc-schema/ (schema-arb.ts), valid and mutated, sent through
 * one long-lived sidecar in pipelined windows (NDJSON and Content-Length framing, single messages
 * and batches), with the contract's properties checked on every answer:
 *
 * - the process never dies (system.shutdown ends it with status 0: it is restarted on the same
 *   data directory and the run goes on) and never hangs (every request is answered in time);
 * - no answer is InternalError; every error code is one the method declares (contract.ts), with
 *   the `data` the table promises; every result passes the method's result schema;
 * - params the method's own validator refuses are answered -32602;
 * - a rejected request changes nothing: it announces no store.changed, and around a sample of
 *   them a content hash of every table (read by a read-only connection of this process) is equal.
 *
 * Everything random comes from one seed. Names the store makes (backup files, cursors) come from
 * its answers, so a run repeats the same requests up to those names.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as validators from '../../src/generated/validators.js';
import { resultValidator } from '../../src/methods/index.js';
import { contractProblems, METHOD_SPECS } from './contract.js';
import { StoreProcess, type Framing, type RpcResponse } from './process.js';
import { AWKWARD_STRINGS, arbitraryOf, mutationOf, type Pools } from './schema-arb.js';
import { seededRandom } from './random.js';

type Json = any;

export interface FuzzOptions {
  seed: number;
  /** Messages to send in all (requests, batch members and raw lines). */
  messages: number;
  /** Send hostile file paths (`../data.db`, devices, a FIFO, symlinks, NUL, long names) to the file methods. */
  hostilePaths?: boolean;
  /** Only these methods (default: every method of rpc-schema/methods). */
  methods?: readonly string[];
  /** Largest pipelined window (default 24). */
  maxWindow?: number;
  /** Hash the database around one rejected request in this many (default 8). */
  hashEvery?: number;
  /** A window not fully answered within this is a hang (default 30 s). */
  timeoutMs?: number;
  /** Stop after this many failures (default 10). */
  maxFailures?: number;
  /** Progress lines (long runs). */
  log?: (line: string) => void;
}

export interface FuzzFailure {
  seed: number;
  /** Index of the message in the run. */
  message: number;
  method: string;
  problem: string;
  /** The request exactly as sent (cut at 4,000 characters). */
  request: string;
  answer: string;
}

export interface FuzzStats {
  seed: number;
  messages: number;
  requests: number;
  valid: number;
  mutated: number;
  raw: number;
  batches: number;
  /** $/cancelRequest notifications sent. */
  cancels: number;
  windows: number;
  restarts: number;
  framings: Record<Framing, number>;
  results: number;
  errors: Record<string, number>;
  methods: Record<string, number>;
  hashChecks: number;
  hashSkipped: number;
  slowestMs: number;
  elapsedMs: number;
}

/** Methods whose real work is slow or grows with the database: sampled rarely. */
const HEAVY: Readonly<Record<string, number>> = {
  'backup.create': 0.15,
  'backup.restore': 0.1,
  'export.full': 0.1,
  'import.full': 0.15,
  'import.songs': 0.3,
  'export.songs': 0.3,
  'backup.verify': 0.3,
  'system.doctor': 0.1,
  'system.stats': 0.3,
  'system.shutdown': 0.02,
  'rpc.discover': 0.2,
};

/** Long operations that answer out of order (they run beside the queue). */
const BESIDE = new Set(['backup.create', 'export.full']);
/** Methods after whose success data.db is another file. */
const REPLACES_DB = new Set(['backup.restore', 'import.full']);


const paramsValidator = (method: string): ((v: unknown) => boolean) | undefined =>
  (validators as unknown as Record<string, (v: unknown) => boolean>)[`${method.replace(/\./g, '_')}__params`];

/** A content hash of every table of the database (a read-only connection, opened for the call). */
export function databaseHash(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const hash = createHash('sha256');
    const tables = db
      .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as { name: string; sql: string }[];
    for (const t of tables) {
      if (/^CREATE VIRTUAL/i.test(t.sql)) continue; // its shadow tables are hashed instead
      const rows = db.prepare(`SELECT * FROM "${t.name.replace(/"/g, '""')}"`).raw().all() as unknown[][];
      const lines = rows.map((r) => JSON.stringify(r, (_k, v) => (Buffer.isBuffer(v) ? v.toString('hex') : typeof v === 'bigint' ? String(v) : v))).sort();
      hash.update(`${t.name}\n${lines.join('\n')}\n`);
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

/** A folder of hostile things for path params: a FIFO, symlinks, a directory, a victim file. */
function hostileFiles(owner: { uid: number; gid: number } | undefined, dataDir: string): { dir: string; paths: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'wr-fuzz-hostile-'));
  writeFileSync(join(dir, 'victim.json'), '{"not": "an export"}');
  mkdirSync(join(dir, 'a-folder'));
  symlinkSync(join(dataDir, 'data.db'), join(dir, 'link-to-data.db'));
  symlinkSync(join(dir, 'victim.json'), join(dir, 'link-to-victim.json'));
  let fifo: string[] = [];
  try {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    fifo = [join(dir, 'fifo')];
  } catch {
    // no mkfifo here: the other hostile paths still run
  }
  if (owner) for (const f of ['', 'victim.json', 'a-folder', 'fifo']) try { chownSync(join(dir, f), owner.uid, owner.gid); } catch { /* absent */ }
  return {
    dir,
    paths: [
      '../data.db',
      '../data.db-wal',
      '../whiteroom-store.lock',
      '../logs/persistence.log',
      '../backups',
      join(dataDir, 'data.db'),
      '/dev/zero',
      '/dev/null',
      '/proc/self/mem',
      ...fifo,
      join(dir, 'link-to-data.db'),
      join(dir, 'link-to-victim.json'),
      join(dir, 'victim.json'),
      join(dir, 'a-folder'),
      'a\u0000b.json',
      '\u00e9'.repeat(150) + '.json', // 300 bytes of name
      'x'.repeat(300),
      '.',
      '..',
      '/',
      'exports/',
      '~/songs.json',
      'C:\\songs.json',
      ...AWKWARD_STRINGS.slice(0, 5),
    ],
  };
}

interface Pending {
  /** The request's id: mostly a number, sometimes a string (both are the host's to choose). */
  id: number | string;
  method: string;
  text: string;
  /** True when the method's own validator accepts the params. */
  valid: boolean;
  sentAt: number;
  message: number;
  /** True once a $/cancelRequest for it was sent (-32800 is then an answer it may get). */
  cancelled?: boolean;
}

/**
 * Runs the fuzzer. Returns what it sent and every failure (up to maxFailures); never throws for
 * a failure of the sidecar (the caller decides).
 */
export async function fuzz(options: FuzzOptions): Promise<{ stats: FuzzStats; failures: FuzzFailure[] }> {
  const seed = options.seed >>> 0;
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const maxWindow = options.maxWindow ?? 24;
  const hashEvery = options.hashEvery ?? 8;
  const timeoutMs = options.timeoutMs ?? 30000;
  const maxFailures = options.maxFailures ?? 10;
  const log = options.log ?? (() => {});
  const methods = [...(options.methods ?? Object.keys(METHOD_SPECS))].sort();
  const started = Date.now();

  // A root runner drops privileges for the sidecar: a hostile path must never reach a system file.
  const owner = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'wr-fuzz-'));
  if (owner) chownSync(dataDir, owner.uid, owner.gid);
  const hostile = options.hostilePaths ? hostileFiles(owner, dataDir) : undefined;
  const dbPath = join(dataDir, 'data.db');

  // Pools of names that recur: ids, files the store made (and hostile ones), cursors it answered.
  const storeFiles = new Set<string>(['songs.json', 'data_2020-01-01_000000.db']);
  const cursors = new Set<string>();
  const pools: Pools = {
    ids: ['a', 'b', 'c', 'd', 'e', 'f', 'song-1', 'Beyonc\u00e9'],
    paths: () => [...storeFiles, ...(hostile?.paths ?? [])],
    cursors: () => [...cursors].slice(-20),
  };
  const paramArbs = new Map<string, fc.Arbitrary<Json>>();
  const paramsArb = (method: string): fc.Arbitrary<Json> => {
    let a = paramArbs.get(method);
    if (!a) paramArbs.set(method, (a = arbitraryOf(METHOD_SPECS[method].params, pools)));
    return a;
  };
  const sample = <T>(arb: fc.Arbitrary<T>): T => fc.sample(arb, { seed: Math.floor(rand() * 2 ** 31), numRuns: 1 })[0]!;

  const weights = methods.map((m) => HEAVY[m] ?? 1);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const pickMethod = (): string => {
    let r = rand() * totalWeight;
    for (let i = 0; i < methods.length; i++) if ((r -= weights[i]!) < 0) return methods[i]!;
    return methods[methods.length - 1]!;
  };

  const stats: FuzzStats = {
    seed, messages: 0, requests: 0, valid: 0, mutated: 0, raw: 0, batches: 0, cancels: 0, windows: 0, restarts: 0,
    framings: { ndjson: 0, header: 0 }, results: 0, errors: {}, methods: {}, hashChecks: 0, hashSkipped: 0, slowestMs: 0, elapsedMs: 0,
  };
  const failures: FuzzFailure[] = [];
  const fail = (p: Pick<Pending, 'message' | 'method' | 'text'>, problem: string, answer: unknown): void => {
    failures.push({ seed, message: p.message, method: p.method, problem, request: p.text.slice(0, 4000), answer: JSON.stringify(answer)?.slice(0, 4000) ?? 'none' });
    log(`FAILURE ${failures.length} (seed ${seed}, message ${p.message}) ${p.method}: ${problem}`);
  };

  let framing: Framing = rand() < 0.5 ? 'ndjson' : 'header';
  let proc: StoreProcess | undefined;
  const launch = async (): Promise<StoreProcess> => {
    stats.framings[framing]++;
    return StoreProcess.start({ dataDir, framing, ...(owner ?? {}) });
  };
  const frame = (json: string): string => (proc!.framing === 'ndjson' ? `${json}\n` : `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
  let nextId = 1;
  let message = 0;

  /** Checks one answer against the contract; true when it was an error. */
  const check = (p: Pending, r: RpcResponse): void => {
    const took = Date.now() - p.sentAt;
    stats.slowestMs = Math.max(stats.slowestMs, took);
    if (r.error) {
      const key = String(r.error.code);
      stats.errors[key] = (stats.errors[key] ?? 0) + 1;
      for (const problem of contractProblems(p.method, r.error)) fail(p, problem, r);
      // A request the host cancelled may be answered -32800 before its params are looked at.
      const cancelledFirst = p.cancelled === true && r.error.code === -32800;
      if (!p.valid && r.error.code !== -32602 && r.error.code !== -32600 && !cancelledFirst) {
        fail(p, `params its schema refuses were answered ${r.error.code}, not -32602`, r);
      }
    } else {
      stats.results++;
      if (!p.valid) fail(p, 'params its schema refuses were answered a result', r);
      const validate = resultValidator(p.method);
      if (!validate(r.result)) fail(p, `the result fails its schema: ${JSON.stringify((validate as Json).errors).slice(0, 500)}`, r);
      learn(p.method, r.result);
    }
  };

  /** Adds to a pool that keeps its newest 50 (long runs stay flat). */
  const remember = (pool: Set<string>, v: string): void => {
    pool.delete(v);
    pool.add(v);
    if (pool.size > 50) pool.delete(pool.values().next().value!);
  };

  /** Names the store made, for later requests to name. */
  const learn = (method: string, result: Json): void => {
    if (result && typeof result === 'object') {
      if (typeof result.nextCursor === 'string') remember(cursors, result.nextCursor);
      if ((method === 'backup.create' || method.startsWith('export.')) && typeof result.path === 'string') {
        remember(storeFiles, result.path);
        remember(storeFiles, basename(result.path));
      }
    }
  };

  /** One request: method, params text, and whether its own validator accepts it. */
  const makeRequest = (): Pending & { body: Json } => {
    const method = pickMethod();
    let params: Json = sample(paramsArb(method));
    if (rand() < 0.45) {
      params = sample(mutationOf(params)).params;
      stats.mutated++;
    } else stats.valid++;
    const n = nextId++;
    const id = rand() < 0.2 ? `r-${n}` : n;
    const body = { jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) };
    const text = JSON.stringify(body);
    const validate = paramsValidator(method);
    const plain = params === undefined || (typeof params === 'object' && params !== null && !Array.isArray(params));
    stats.methods[method] = (stats.methods[method] ?? 0) + 1;
    return { id, method, text, body, valid: plain && (validate ? validate(params ?? {}) : true), sentAt: 0, message: message++ };
  };

  /** Waits for every answer of a window; a missing one is a hang. */
  const collect = async (window: Pending[]): Promise<Map<number | string, RpcResponse>> => {
    const answers = new Map<number | string, RpcResponse>();
    const exitedEarly = proc!.exited.then((e) => e);
    await Promise.all(
      window.map(async (p) => {
        const r = await Promise.race([
          proc!.waitForResponse(p.id, timeoutMs).catch(() => undefined),
          exitedEarly.then(() => new Promise<undefined>((res) => setTimeout(() => res(undefined), 200))),
        ]);
        if (r) answers.set(p.id, r);
      }),
    );
    return answers;
  };

  /** Store.changed between consecutive answers of a window belongs to the later one. */
  const changesBeforeEach = (window: Pending[], mark: number): Map<number | string, string[]> => {
    const out = new Map<number | string, string[]>();
    let gap: string[] = [];
    let background = false;
    const ids = new Set(window.map((p) => p.id));
    for (const m of proc!.received.slice(mark) as Json[]) {
      if (m && m.method === 'store.changed') gap.push(`${m.params.entity}/${m.params.op}`);
      else if (m && m.method === 'autosave.saved') background = true;
      else if (m && !Array.isArray(m) && ids.has(m.id)) {
        out.set(m.id, background ? [] : gap);
        gap = [];
        background = false;
      }
    }
    return out;
  };

  const restart = async (why: string): Promise<void> => {
    framing = framing === 'ndjson' ? 'header' : 'ndjson';
    stats.restarts++;
    log(`restart ${stats.restarts} (${why}), now ${framing}`);
    proc = await launch();
  };

  try {
    proc = await launch();
    while (stats.messages < options.messages && failures.length < maxFailures) {
      stats.windows++;
      const roll = rand();
      // Transport-level garbage, alone: its answer has no id to wait for.
      if (roll < 0.01) {
        await rawMessage();
        continue;
      }
      const isolated = roll < 0.01 + 1 / hashEvery;
      const size = isolated ? 1 : 1 + Math.floor(rand() * rand() * maxWindow);
      const window: (Pending & { body: Json })[] = [];
      for (let i = 0; i < size && stats.messages + window.length < options.messages; i++) {
        const r = makeRequest();
        window.push(r);
        if (r.method === 'system.shutdown') break; // it ends the process: last of its window
      }
      if (window.length === 0) break;
      // A window of more than one is sometimes one batch; never one with shutdown or a long operation.
      const asBatch = window.length > 1 && rand() < 0.15 && !window.some((p) => p.method === 'system.shutdown' || BESIDE.has(p.method));
      let hashBefore: string | undefined;
      try {
        hashBefore = isolated ? databaseHash(dbPath) : undefined;
      } catch (err) {
        // data.db itself is damaged or gone (a write through a hostile path reached it): the run
        // cannot go on meaningfully.
        fail(window[0]!, `data.db cannot be read by a second connection: ${String(err)} (an earlier request damaged it)`, undefined);
        break;
      }
      const mark = proc.received.length;
      const now = Date.now();
      for (const p of window) p.sentAt = now;
      // Sometimes the host changes its mind: $/cancelRequest of one of the window's requests, at
      // its end (it skips the queue). The request is answered -32800 with nothing changed, or
      // normally when the cancel came too late.
      let frames = asBatch ? [frame(JSON.stringify(window.map((p) => p.body)))] : window.map((p) => frame(p.text));
      if (!asBatch && rand() < 0.05) {
        const at = Math.floor(rand() * window.length);
        window[at]!.cancelled = true;
        frames.push(frame(JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: window[at]!.id } })));
        stats.messages++;
        stats.cancels++;
      }
      proc.sendRaw(frames.join(''));
      stats.messages += window.length;
      stats.requests += window.length;
      if (asBatch) stats.batches++;
      const answers = await collect(window);
      const gaps = asBatch || window.some((p) => BESIDE.has(p.method)) ? undefined : changesBeforeEach(window, mark);
      let replaced = false;
      for (const p of window) {
        const r = answers.get(p.id);
        if (!r) {
          fail(p, proc.child.exitCode === null ? `no answer within ${timeoutMs} ms (a hang)` : `the process died (exit ${proc.child.exitCode} ${proc.child.signalCode}) before answering`, { stderr: proc.stderr.slice(-2000) });
          continue;
        }
        check(p, r);
        if (r.error && gaps?.get(p.id)?.length) fail(p, `a rejected request announced changes: ${gaps.get(p.id)!.join(', ')}`, r);
        if (!r.error && REPLACES_DB.has(p.method)) replaced = true;
      }
      if (isolated && hashBefore !== undefined) {
        const p = window[0]!;
        const r = answers.get(p.id);
        if (r?.error && proc.child.exitCode === null && !replaced) {
          // Anything a background job (an autosave promotion) committed meanwhile is announced
          // before the answer to a ping sent now; with nothing announced, nothing may differ.
          let after: string;
          try {
            after = databaseHash(dbPath);
          } catch (err) {
            fail(p, `after this request data.db cannot be read by a second connection: ${String(err)}`, r);
            break;
          }
          const pingMark = proc.received.length;
          await proc.request('system.ping', undefined, `ping-${nextId++}`);
          const announced = (proc.received.slice(mark) as Json[]).some((m) => m && (m.method === 'store.changed' || m.method === 'autosave.saved'));
          if (announced) stats.hashSkipped++;
          else {
            stats.hashChecks++;
            if (after !== hashBefore) fail(p, `a rejected request (${r.error.code}) changed the database`, r);
          }
          void pingMark;
        }
      }
      const last = window[window.length - 1]!;
      if (last.method === 'system.shutdown' && answers.get(last.id)?.result) {
        const exit = await Promise.race([proc.exited, new Promise<undefined>((res) => setTimeout(() => res(undefined), timeoutMs))]);
        if (!exit || exit.code !== 0) fail(last, `system.shutdown did not end the process with status 0: ${JSON.stringify(exit)}`, { stderr: proc.stderr.slice(-2000) });
        await proc.cleanup();
        await restart('system.shutdown');
      } else if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        fail(last, `the process died: exit ${proc.child.exitCode} ${proc.child.signalCode}`, { stderr: proc.stderr.slice(-2000) });
        await proc.cleanup();
        await restart('died');
      }
      // Keep memory flat on long runs: what was checked is not needed again.
      proc.received.splice(0);
      if (stats.windows % 500 === 0) log(`${stats.messages} messages, ${failures.length} failures, ${Math.round((Date.now() - started) / 1000)} s`);
      // Half-way, change framing once even when no shutdown came up.
      if (stats.restarts === 0 && stats.messages >= options.messages / 2) {
        await proc.call('system.shutdown');
        await proc.exited;
        await proc.cleanup();
        await restart('half-way');
      }
    }
  } finally {
    if (proc) await proc.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
    if (hostile) rmSync(hostile.dir, { recursive: true, force: true });
  }
  stats.elapsedMs = Date.now() - started;
  return { stats, failures };

  /** A message that is not a valid request; answered (or not) by the transport's rules. */
  async function rawMessage(): Promise<void> {
    const id = nextId++;
    const cases: { text: string; expect: number | undefined; id: number | null }[] = [
      { text: '{"jsonrpc": "2.0", "method": "songs.get", "params": {', expect: -32700, id: null },
      { text: `{"jsonrpc": "2.0", "id": ${id}}`, expect: -32600, id },
      { text: `{"jsonrpc": "1.0", "id": ${id}, "method": "system.ping"}`, expect: -32600, id },
      { text: '[]', expect: -32600, id: null },
      { text: `{"jsonrpc": "2.0", "id": ${id}, "method": "songs.noSuchVerb", "params": {}}`, expect: -32601, id },
      { text: `{"jsonrpc": "2.0", "id": ${id}, "method": "songs.get", "params": ["a"]}`, expect: -32602, id },
      { text: `{"jsonrpc": "2.0", "id": {"x": 1}, "method": "system.ping"}`, expect: -32600, id: null },
      // A notification of a real method is run and answered nothing; the ping behind it is.
      { text: '{"jsonrpc": "2.0", "method": "songs.count", "params": {}}', expect: undefined, id: null },
    ];
    const c = pick(cases);
    const p = { method: '(raw)', text: c.text, message: message++ };
    stats.messages++;
    stats.raw++;
    const mark = proc!.received.length;
    proc!.sendRaw(frame(c.text));
    const ping = await proc!.request('system.ping', undefined, `ping-${nextId++}`).catch(() => undefined);
    if (!ping) return fail(p, 'no answer to a ping sent after it (a hang or a death)', { stderr: proc!.stderr.slice(-2000) });
    const before = (proc!.received.slice(mark) as Json[]).filter((m) => m && !Array.isArray(m) && 'id' in m && m.id !== ping.id);
    if (c.expect === undefined) {
      if (before.length) fail(p, 'a notification was answered', before);
      return;
    }
    const answer = before.find((m) => m.error);
    if (!answer || answer.error.code !== c.expect || answer.id !== c.id) fail(p, `expected ${c.expect} with id ${c.id}`, before);
    else {
      const key = String(answer.error.code);
      stats.errors[key] = (stats.errors[key] ?? 0) + 1;
    }
  }
}
