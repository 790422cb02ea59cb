/**
 * What the benchmarks share: a peer speaking NDJSON JSON-RPC to a child process (answers matched
 * by id, so requests can be pipelined), the layer-free pipe server used as the transport
 * baseline, and medians.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

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
        const id = (JSON.parse(line) as { id: number | string }).id;
        const w = this.#waiting.get(id);
        this.#waiting.delete(id);
        w?.(line);
      }
      if (start < chunk.length) this.#parts.push(chunk.subarray(start));
    });
  }

  static spawn(command: string, args: string[], env?: NodeJS.ProcessEnv): Peer {
    return new Peer(spawn(command, args, env ? { env } : {}));
  }

  /** Sends one request (a JSON text with an `id`) and resolves with its answer line. */
  ask(json: string, id: number | string = (JSON.parse(json) as { id: number | string }).id): Promise<string> {
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.child.stdin.write(`${json}\n`);
    });
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
