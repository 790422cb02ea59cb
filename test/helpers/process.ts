/**
 * Test harness: spawns the real sidecar and speaks JSON-RPC to it over its stdin/stdout, in
 * either framing. The entry is the built JavaScript (dist/src/main.js) unless WHITEROOM_STORE_BIN
 * names another executable (the packaged binary), so one suite tests both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const MAIN_JS = join(ROOT, 'dist', 'src', 'main.js');

/** The command that runs the sidecar: [executable, ...leading args]. */
export function sidecarCommand(): [string, string[]] {
  const bin = process.env.WHITEROOM_STORE_BIN;
  return bin ? [resolve(bin), []] : [process.execPath, [MAIN_JS]];
}

export type Framing = 'ndjson' | 'header';

/** The text each message from the sidecar arrived as (by the parsed message). */
const ARRIVED_AS = new WeakMap<object, string>();

export interface RpcResponse {
  jsonrpc: '2.0';
  id: string | number | null;
  result?: any;
  error?: { code: number; message: string; data?: any };
}

export interface RpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: any;
}

/** A JSON-RPC error answer, thrown by `call`. */
export class RpcCallError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: any,
  ) {
    super(`${code} ${message}`);
  }
}

export interface StartOptions {
  /** Data directory; a fresh temporary one when omitted (removed by `cleanup`). */
  dataDir?: string;
  framing?: Framing;
  /** Extra command-line arguments (after the defaults: --log-level warn --auto-backup-hours 0). */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Wait for the first answer (system.ping) before resolving (default true). */
  waitReady?: boolean;
  /** Run the sidecar as this user and group (a root test runner drops privileges: the fuzzer). */
  uid?: number;
  gid?: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Makes a temporary data directory. */
export function tempDir(prefix = 'wr-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export class StoreProcess {
  readonly child: ChildProcess;
  readonly dataDir: string;
  readonly framing: Framing;
  /** Every message received, in order (responses, batch arrays, notifications). */
  readonly received: unknown[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;
  #ownsDir: boolean;
  #nextId = 1;
  #waiters = new Map<string | number, (r: RpcResponse) => void>();
  #listeners: (() => void)[] = [];
  #buffer = Buffer.alloc(0);
  /** Chunks not yet joined to #buffer: a large answer arrives in many, and is joined once. */
  #chunks: Buffer[] = [];
  #chunkBytes = 0;
  /** The bytes #buffer must hold before the message it starts can be complete (header framing). */
  #need = 0;

  private constructor(options: StartOptions) {
    this.#ownsDir = !options.dataDir;
    this.dataDir = options.dataDir ?? tempDir();
    this.framing = options.framing ?? 'ndjson';
    const [cmd, lead] = sidecarCommand();
    // No automatic backup unless a test asks for one (a later --auto-backup-hours wins): tests
    // count the files in backups/ and some run on a tiny disk.
    const args = [...lead, '--data-dir', this.dataDir, '--log-level', 'warn', '--auto-backup-hours', '0', ...(options.args ?? [])];
    this.child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    this.child.stdout!.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.stdin!.on('error', () => {}); // EPIPE after the process exits
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Spawns the sidecar; by default waits until it answers. */
  static async start(options: StartOptions = {}): Promise<StoreProcess> {
    const p = new StoreProcess(options);
    if (options.waitReady !== false) {
      const ready = p.call('system.ping');
      const exited = p.exited.then((e) => {
        throw new Error(`sidecar exited (${JSON.stringify(e)}) before answering: ${p.stderr}`);
      });
      try {
        await Promise.race([ready, exited]);
      } catch (err) {
        // Nobody gets the process to clean up: its child and its own temporary folder go now.
        await p.cleanup();
        throw err;
      }
    }
    return p;
  }

  /** Writes raw bytes or text to stdin, as they are. */
  sendRaw(data: string | Buffer): void {
    this.child.stdin!.write(data);
  }

  /** Writes one message in this process's framing (any JSON value, e.g. a batch array). */
  send(message: unknown): void {
    const json = JSON.stringify(message);
    this.sendRaw(this.framing === 'ndjson' ? `${json}\n` : `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
  }

  /** Sends a request and resolves with its response (result or error). */
  request(method: string, params?: unknown, id: string | number = this.#nextId++): Promise<RpcResponse> {
    const answer = this.waitForResponse(id);
    this.send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
    return answer;
  }

  /**
   * Sends a request whose params are the JSON text `paramsJson`, as it is (numbers JSON.stringify
   * cannot write: 1e400, -0, 2^64); resolves with the text the answer arrived as.
   */
  async requestText(method: string, paramsJson: string, id: string | number = this.#nextId++): Promise<string> {
    const answer = this.waitForResponse(id);
    const json = `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":${JSON.stringify(method)},"params":${paramsJson}}`;
    this.sendRaw(this.framing === 'ndjson' ? `${json}\n` : `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
    const r = await answer;
    return ARRIVED_AS.get(r)!;
  }

  /** Sends a request; resolves with its result or rejects with RpcCallError. */
  async call(method: string, params?: unknown): Promise<any> {
    const r = await this.request(method, params);
    if (r.error) throw new RpcCallError(r.error.code, r.error.message, r.error.data);
    return r.result;
  }

  /** Sends a notification (no id, no answer). */
  notify(method: string, params?: unknown): void {
    this.send({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });
  }

  /** Resolves with the response that has `id` (also when it arrives inside a batch). */
  waitForResponse(id: string | number, timeoutMs = 10000): Promise<RpcResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response with id ${id} within ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.#waiters.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  /** Resolves once `count` messages have been received in all; returns them. */
  async waitForMessages(count: number, timeoutMs = 10000): Promise<unknown[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`received ${this.received.length} of ${count} messages; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.#listeners.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received.slice(0, count);
  }

  /** Notifications received so far with this method. */
  notifications(method = 'store.changed'): any[] {
    return this.received
      .filter((m): m is RpcNotification => typeof m === 'object' && m !== null && (m as RpcNotification).method === method)
      .map((m) => m.params);
  }

  /** Closes stdin and waits for the process to exit. */
  async close(): Promise<Exit> {
    this.child.stdin!.end();
    return this.exited;
  }

  /** Sends a signal and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    this.child.kill(signal);
    return this.exited;
  }

  /** Kills the process if it still runs and removes a data directory this harness made. */
  async cleanup(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    if (this.#ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#chunkBytes += chunk.length;
    // Join only when a message can be complete: joining every chunk of a 50 MB answer to what came
    // before copies the answer hundreds of times over.
    if (this.framing === 'ndjson' ? chunk.indexOf(0x0a) === -1 : this.#buffer.length + this.#chunkBytes < this.#need) return;
    this.#buffer = Buffer.concat([this.#buffer, ...this.#chunks]);
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#need = 0;
    for (;;) {
      let body: Buffer | undefined;
      if (this.framing === 'ndjson') {
        const nl = this.#buffer.indexOf(0x0a);
        if (nl === -1) break;
        body = this.#buffer.subarray(0, nl);
        this.#buffer = this.#buffer.subarray(nl + 1);
      } else {
        const end = this.#buffer.indexOf('\r\n\r\n');
        if (end === -1) break;
        const m = /Content-Length: (\d+)/i.exec(this.#buffer.subarray(0, end).toString('ascii'));
        if (!m) throw new Error(`bad header from sidecar: ${this.#buffer.subarray(0, end).toString()}`);
        const length = Number(m[1]);
        if (this.#buffer.length < end + 4 + length) {
          this.#need = end + 4 + length;
          break;
        }
        body = this.#buffer.subarray(end + 4, end + 4 + length);
        this.#buffer = this.#buffer.subarray(end + 4 + length);
      }
      const text = body.toString('utf8');
      const message = JSON.parse(text);
      if (message && typeof message === 'object') ARRIVED_AS.set(message, text);
      this.received.push(message);
      for (const r of Array.isArray(message) ? message : [message]) {
        if (r && typeof r === 'object' && 'id' in r && r.id !== null) {
          const w = this.#waiters.get(r.id);
          if (w) {
            this.#waiters.delete(r.id);
            w(r);
          }
        }
      }
      for (const l of this.#listeners.splice(0)) l();
    }
  }
}

/** Runs the sidecar to completion with `input` on stdin; returns stdout, stderr and the exit. */
export function runOnce(
  args: string[],
  input: string | Buffer = '',
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 20000,
): Promise<{ stdout: string; stderr: string; code: number | null; signal: NodeJS.Signals | null }> {
  const [cmd, lead] = sidecarCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...lead, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.on('error', () => {});
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, signal });
    });
    child.stdin.end(input);
  });
}
