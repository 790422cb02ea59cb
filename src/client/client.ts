/**
 * The typed client of whiteroom-store: spawns the sidecar (or speaks over any pair of streams)
 * and calls its methods as typed functions. Everything it knows of the API comes from
 * rpc-schema/ through scripts/gen.mjs (src/generated/types.ts and client.ts): a new method is a
 * new function here with no hand-written code. See docs/client.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { MethodMap, MethodName } from '../generated/types.js';
import { METHOD_FAMILIES, PROGRESS_METHODS, type FamilyMethods, type NotificationMap } from '../generated/client.js';
import { ErrorCode } from '../generated/errors.js';
import { WhiteroomConnectionError, WhiteroomError, type ErrorData } from './errors.js';
import { frame, MessageReader, type Framing } from './framing.js';
import type { CallOptions, Progress, ProgressCallOptions, ProgressParams } from './options.js';
import { topLevelMembers, type Span } from './scan.js';

type ProgressMethod = (typeof PROGRESS_METHODS)[number];
/** The options a call of `M` takes: onProgress for the methods that report progress. */
export type OptionsFor<M extends MethodName> = M extends ProgressMethod ? ProgressCallOptions : CallOptions;
/** A call's arguments after the method: params optional when the method's schema requires none. */
export type CallArgs<M extends MethodName> = {} extends MethodMap[M]['params']
  ? [params?: MethodMap[M]['params'], options?: OptionsFor<M>]
  : [params: MethodMap[M]['params'], options?: OptionsFor<M>];

/** How the process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What the client emits: every notification by its method, and the client's own events. */
export interface ClientEvents extends NotificationMap {
  /** Every `$/progress` (also those of calls with onProgress). */
  '$/progress': ProgressParams;
  /** Every notification, whatever its method (one the client has no type for included). */
  notification: { method: string; params: unknown };
  /** An answer whose id names no pending call (an error answered with `id: null`, such as -32700 or -32600). */
  unmatched: { id: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };
  /** The sidecar's stderr, as it comes (spawned with `stderr: 'pipe'`). */
  stderr: string;
  /** The connection is gone (every pending call has been rejected with `error`). */
  close: { exit?: Exit; error: WhiteroomConnectionError };
}

/** One answer, as it arrives (see ClientOptions.onAnswer). */
export interface AnswerInfo {
  method: string;
  id: number;
  /** The result (undefined for an error or a raw call). */
  result?: unknown;
  error?: WhiteroomError;
  /** The result's text, for a raw call (callText). */
  text?: string;
}

export interface ClientOptions {
  /**
   * Parses results and notification params (JSON.parse by default). JSON.parse reads every
   * number as a double: structured parts (sections, mixGraph, a performance's automation, …) are
   * stored and answered exactly as sent, so an integer beyond 2^53 or a `1e400` in them loses its
   * digits. A host that needs them exact passes a lossless parser here (lossless-json's `parse`),
   * or uses `callText` for those calls. Ids and errors are read by the client itself.
   */
  parse?: (text: string) => unknown;
  /**
   * Called synchronously with each answer as it arrives, in stream order with the notifications
   * (before the call's promise settles): logging, or checking results in a debug build. An
   * exception it throws rejects that call with it.
   */
  onAnswer?: (answer: AnswerInfo) => void;
  /**
   * Requests whose JSON passes this many bytes are refused before they are sent (-32600, as the
   * sidecar would): the sidecar's `--max-message-bytes` (default 64 MiB) answers a larger one
   * with `id: null`, which can be matched to a call only while it is the one call pending
   * (else it is an `unmatched` event). Default 64 MiB, or the `--max-message-bytes` among
   * spawn()'s `args`.
   */
  maxMessageBytes?: number;
}

export interface ConnectOptions extends ClientOptions {
  /** Default 'header' (Content-Length, as the Swift host speaks); the sidecar detects either. */
  framing?: Framing;
}

export interface SpawnOptions extends ConnectOptions {
  /** The executable: the packaged binary, or node. Default: node running this package's dist/src/main.js. */
  command?: string;
  /** Arguments (after the default entry script when `command` is not given, before `--data-dir`). */
  args?: readonly string[];
  /** `--data-dir`; the sidecar's default (WHITEROOM_DATA_DIR, else the platform's) when absent. */
  dataDir?: string;
  /** The environment, as child_process takes it (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** 'pipe' (default): the end of stderr is kept for errors and emitted as 'stderr' events. */
  stderr?: 'pipe' | 'inherit' | 'ignore';
  /** Resolve once the sidecar answers `system.ping` (default true): a start it refuses rejects, with its stderr. */
  ready?: boolean;
}

export interface CloseOptions {
  /** How long to wait for the sidecar to exit after its stdin ends before killing it (default 10 s). */
  timeoutMs?: number;
}

interface Pending {
  method: string;
  raw: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  onProgress: ((p: Progress) => void) | undefined;
  token: string | undefined;
  cleanup: (() => void) | undefined;
}

/** The entry the client spawns by default: this package's built sidecar. */
export const DEFAULT_ENTRY = fileURLToPath(new URL('../main.js', import.meta.url));
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const STDERR_TAIL = 64 * 1024;
const PROGRESS = new Set<string>(PROGRESS_METHODS);
/** `{"jsonrpc":"2.0","id":N,` at the start of a message: the id without scanning the rest. */
const LEADING_ID = /^\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(\d{1,15})\s*,/;

/** `--max-message-bytes N` (or `=N`) among the sidecar's arguments. */
function messageLimitOf(args: readonly string[]): number | undefined {
  let limit: number | undefined;
  args.forEach((a, i) => {
    const value = a === '--max-message-bytes' ? args[i + 1] : a.startsWith('--max-message-bytes=') ? a.slice(a.indexOf('=') + 1) : undefined;
    if (value !== undefined && /^\d+$/.test(value)) limit = Number(value);
  });
  return limit;
}

/** Rethrows outside the client's read loop: a listener's exception is the host's, not the stream's. */
const rethrowLater = (err: unknown): void => {
  process.nextTick(() => {
    throw err;
  });
};

export interface WhiteroomClient extends FamilyMethods {}

/**
 * A connection to one sidecar. `client.songs.get({id})`, `client.call('songs.get', {id})`;
 * `client.on('store.changed', ...)`; `await client.close()`.
 */
export class WhiteroomClient {
  /** The spawned process (undefined for `connect`). */
  readonly process: ChildProcess | undefined;
  readonly framing: Framing;
  #exit: Exit | undefined;
  #readDone = false;
  readonly #readable: NodeJS.ReadableStream;
  readonly #writable: NodeJS.WritableStream;
  readonly #reader: MessageReader;
  readonly #parse: ((text: string) => unknown) | undefined;
  readonly #onAnswer: ClientOptions['onAnswer'];
  readonly #maxMessageBytes: number;
  readonly #pending = new Map<number, Pending>();
  readonly #byToken = new Map<string, Pending>();
  readonly #listeners = new Map<string, Set<(arg: any) => void>>();
  #nextId = 1;
  #stderr = '';
  /** Set once the connection is gone: every call rejects with it. */
  #failure: WhiteroomConnectionError | undefined;
  #closing = false;
  #closed: Promise<void>;
  #markClosed!: () => void;
  #exited: Promise<Exit> | undefined;

  private constructor(readable: NodeJS.ReadableStream, writable: NodeJS.WritableStream, options: ConnectOptions, child?: ChildProcess) {
    this.framing = options.framing ?? 'header';
    this.process = child;
    this.#readable = readable;
    this.#writable = writable;
    this.#parse = options.parse;
    this.#onAnswer = options.onAnswer;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#reader = new MessageReader(this.framing, (text) => this.#onMessage(text));
    this.#closed = new Promise((resolve) => (this.#markClosed = resolve));
    for (const [family, verbs] of Object.entries(METHOD_FAMILIES)) {
      if (family in this) throw new Error(`the method family ${family} has the name of a client member`);
      const api: Record<string, (params?: unknown, options?: CallOptions) => Promise<unknown>> = {};
      for (const verb of verbs) api[verb] = (params, opts) => this.#request(`${family}.${verb}`, params, opts, false) as Promise<unknown>;
      Object.defineProperty(this, family, { value: Object.freeze(api), enumerable: true });
    }
    writable.on('error', () => {}); // EPIPE once the process is gone: the read side reports it
    readable.on('data', (chunk: Buffer | string) => {
      if (this.#failure) return;
      try {
        this.#reader.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      } catch (err) {
        this.#protocolFailure(err);
      }
    });
    readable.on('error', (err: Error) => this.#readEnded(err));
    readable.on('end', () => this.#readEnded());
    readable.on('close', () => this.#readEnded());
    if (child) {
      this.#exited = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
          this.#exit = { code, signal };
          resolve(this.#exit);
        });
      });
      child.on('error', (err) => this.#fail(new WhiteroomConnectionError('stream-error', `the sidecar could not be run: ${err.message}`, { cause: err })));
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (s: string) => {
        this.#stderr = (this.#stderr + s).slice(-STDERR_TAIL);
        this.#emit('stderr', s);
      });
    }
  }

  /**
   * Spawns the sidecar and connects to its stdin/stdout. By default runs this package's own
   * entry with the node running this process; `command` (and `args`) run another, such as the
   * packaged binary (`dist-bin/whiteroom-store`).
   */
  static async spawn(options: SpawnOptions = {}): Promise<WhiteroomClient> {
    const command = options.command ?? process.execPath;
    const args = [...(options.command === undefined ? [DEFAULT_ENTRY] : []), ...(options.args ?? []), ...(options.dataDir === undefined ? [] : ['--data-dir', options.dataDir])];
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', options.stderr ?? 'pipe'],
      env: options.env ?? process.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    const limit = options.maxMessageBytes ?? messageLimitOf(args);
    const client = new WhiteroomClient(child.stdout!, child.stdin!, limit === undefined ? options : { ...options, maxMessageBytes: limit }, child);
    if (options.ready !== false) {
      try {
        await client.call('system.ping');
      } catch (err) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        throw err;
      }
    }
    return client;
  }

  /** A client over any pair of streams: `readable` carries the sidecar's output, `writable` its input. */
  static connect(readable: NodeJS.ReadableStream, writable: NodeJS.WritableStream, options: ConnectOptions = {}): WhiteroomClient {
    return new WhiteroomClient(readable, writable, options);
  }

  /** How the process ended, once it has. */
  get exit(): Exit | undefined {
    return this.#exit;
  }

  /** What the process wrote to stderr lately (the last 64 KiB; `stderr: 'pipe'`). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Whether calls can still be made (false once close() began or the connection is gone). */
  get open(): boolean {
    return !this.#closing && this.#failure === undefined;
  }

  /** Calls `method`; resolves with its result, rejects with WhiteroomError (an answer) or WhiteroomConnectionError. */
  call<M extends MethodName>(method: M, ...args: CallArgs<M>): Promise<MethodMap[M]['result']> {
    return this.#request(method, args[0], args[1], false) as Promise<MethodMap[M]['result']>;
  }

  /**
   * Calls `method` and resolves with the text of its result exactly as the sidecar wrote it (every
   * number as stored), for a host's own lossless parser. `params` may be a value or the JSON text
   * of the params object, sent as it is (so numbers JSON.stringify cannot write stay exact).
   */
  callText<M extends MethodName>(method: M, params?: MethodMap[M]['params'] | string, options?: OptionsFor<M>): Promise<string> {
    return this.#request(method, params, options, true) as Promise<string>;
  }

  /** Calls a method by any name, unchecked (one newer than this client's types, or a deliberate bad call). */
  callUntyped(method: string, params?: unknown, options?: ProgressCallOptions): Promise<unknown> {
    return this.#request(method, params, options, false);
  }

  /** Listens to an event (a notification by its method, or a client event); answers a function that stops listening. */
  on<E extends keyof ClientEvents>(event: E, listener: (params: ClientEvents[E]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Listens to the next event only. */
  once<E extends keyof ClientEvents>(event: E, listener: (params: ClientEvents[E]) => void): () => void {
    const off = this.on(event, (p) => {
      off();
      listener(p);
    });
    return off;
  }

  off<E extends keyof ClientEvents>(event: E, listener: (params: ClientEvents[E]) => void): void {
    this.#listeners.get(event)?.delete(listener);
  }

  /**
   * Ends the connection cleanly: ends the sidecar's stdin, which makes it finish the running
   * request, answer queued ones -32030, promote staged autosaves, checkpoint and exit 0; waits for
   * that exit (killing the process after `timeoutMs`). Calls still pending when the process is
   * gone reject with WhiteroomConnectionError `closed`. Answers how the process ended (undefined
   * for `connect`, which waits for the readable to end).
   */
  async close(options: CloseOptions = {}): Promise<Exit | undefined> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (!this.#closing) {
      this.#closing = true;
      this.#writable.end();
    }
    const ended = this.#exited ?? this.#closed;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      ended.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      if (this.process) this.process.kill('SIGKILL');
      else this.#fail(new WhiteroomConnectionError('closed', `the connection did not end within ${timeoutMs} ms of close()`));
    }
    if (this.#exited) await this.#exited;
    await this.#closed;
    return this.#exit;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #request(method: string, params: unknown, options: ProgressCallOptions | undefined, raw: boolean): Promise<unknown> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closing) return Promise.reject(new WhiteroomConnectionError('closed', `${method}: the client is closing`));
    const signal = options?.signal;
    if (signal?.aborted) {
      return Promise.reject(new WhiteroomError(ErrorCode.RequestCancelled, 'Request cancelled before it was sent', undefined, method));
    }
    const onProgress = options?.onProgress;
    const id = this.#nextId++;
    let token: string | undefined;
    let paramsText: string | undefined;
    try {
      if (onProgress) {
        if (!PROGRESS.has(method)) throw new TypeError(`${method} reports no progress (onProgress is for ${[...PROGRESS].join(', ')})`);
        if (typeof params === 'string') throw new TypeError('onProgress needs params as a value, not as text');
        const given = (params as { workDoneToken?: unknown } | undefined)?.workDoneToken;
        token = given === undefined ? `whiteroom-client-${id}` : String(given);
        if (given === undefined) params = { ...(params as object | undefined), workDoneToken: token };
      }
      if (typeof params === 'string') {
        JSON.parse(params); // JSON text that is not JSON would be answered with id null: refused here instead
        paramsText = params;
      } else if (params !== undefined) {
        paramsText = JSON.stringify(params);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const json = `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)}${paramsText === undefined ? '' : `,"params":${paramsText}`}}`;
    const bytes = Buffer.byteLength(json);
    if (bytes > this.#maxMessageBytes) {
      return Promise.reject(
        new WhiteroomError(ErrorCode.InvalidRequest, `Invalid request: ${bytes} bytes is over the message limit of ${this.#maxMessageBytes}; send fewer records per call`, undefined, method),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = { method, raw, resolve, reject, onProgress, token, cleanup: undefined };
      if (signal) {
        const onAbort = (): void => this.#send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } });
        signal.addEventListener('abort', onAbort, { once: true });
        pending.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.#pending.set(id, pending);
      if (token !== undefined) this.#byToken.set(token, pending);
      this.#writable.write(frame(this.framing, json));
    });
  }

  #send(message: unknown): void {
    if (this.#failure || this.#closing) return;
    this.#writable.write(frame(this.framing, JSON.stringify(message)));
  }

  #settle(id: number): Pending | undefined {
    const p = this.#pending.get(id);
    if (!p) return undefined;
    this.#pending.delete(id);
    if (p.token !== undefined) this.#byToken.delete(p.token);
    p.cleanup?.();
    return p;
  }

  #onMessage(text: string): void {
    if (this.#parse === undefined) {
      // The usual case: one JSON.parse of the whole message, unless it answers a raw call.
      const lead = LEADING_ID.exec(text);
      if (!lead || !this.#pending.get(Number(lead[1]))?.raw) {
        if (text.charCodeAt(0) === 0x5b || /^\s*\[/.test(text)) {
          for (const m of JSON.parse(text) as unknown[]) this.#onParsed(m);
        } else {
          this.#onParsed(JSON.parse(text));
        }
        return;
      }
    }
    if (/^\s*\[/.test(text)) {
      for (const m of JSON.parse(text) as unknown[]) this.#onParsed(m);
      return;
    }
    const members = topLevelMembers(text);
    const slice = (s: Span | undefined): string | undefined => (s === undefined ? undefined : text.slice(s[0], s[1]));
    const parse = this.#parse ?? JSON.parse;
    const idText = slice(members.get('id'));
    const methodText = slice(members.get('method'));
    if (methodText !== undefined && idText === undefined) {
      const paramsText = slice(members.get('params'));
      this.#onNotification(JSON.parse(methodText) as string, paramsText === undefined ? undefined : parse(paramsText));
      return;
    }
    const id: unknown = idText === undefined ? undefined : JSON.parse(idText);
    const errorText = slice(members.get('error'));
    const resultText = slice(members.get('result'));
    const pending = typeof id === 'number' ? this.#pending.get(id) : undefined;
    this.#onResponse(id, errorText === undefined ? undefined : JSON.parse(errorText), () =>
      resultText === undefined ? undefined : pending?.raw ? resultText : parse(resultText),
    );
  }

  #onParsed(m: unknown): void {
    if (typeof m !== 'object' || m === null) throw new SyntaxError(`not a JSON-RPC message: ${JSON.stringify(m)}`);
    const msg = m as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    if (typeof msg.method === 'string' && !('id' in msg)) this.#onNotification(msg.method, msg.params);
    else this.#onResponse(msg.id, msg.error, () => msg.result);
  }

  #onResponse(id: unknown, error: unknown, result: () => unknown): void {
    // An error answered with id null (the sidecar could not read the request's id: too large for
    // its limit) is the one pending call's when there is only one; else no call can be named.
    if (id === null && error !== undefined && this.#pending.size === 1) id = this.#pending.keys().next().value;
    const pending = typeof id === 'number' ? this.#settle(id) : undefined;
    if (!pending) {
      const e = error as ClientEvents['unmatched']['error'];
      this.#emit('unmatched', { id, ...(e === undefined ? { result: result() } : { error: e }) });
      return;
    }
    const n = id as number;
    if (error !== undefined) {
      const e = error as { code: number; message: string; data?: unknown };
      const err = new WhiteroomError(e.code, e.message, e.data as ErrorData<number>, pending.method);
      try {
        this.#onAnswer?.({ method: pending.method, id: n, error: err });
      } catch (hookErr) {
        pending.reject(hookErr);
        return;
      }
      pending.reject(err);
      return;
    }
    let value: unknown;
    try {
      value = result();
      this.#onAnswer?.(pending.raw ? { method: pending.method, id: n, text: value as string } : { method: pending.method, id: n, result: value });
    } catch (err) {
      pending.reject(err);
      return;
    }
    pending.resolve(value);
  }

  #onNotification(method: string, params: unknown): void {
    if (method === '$/progress') {
      const p = params as ProgressParams;
      const pending = this.#byToken.get(String(p?.token));
      if (pending?.onProgress) {
        try {
          pending.onProgress(p.value);
        } catch (err) {
          rethrowLater(err);
        }
      }
    }
    this.#emit('notification', { method, params });
    this.#emit(method, params);
  }

  #emit(event: string, arg: unknown): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const l of [...set]) {
      try {
        l(arg);
      } catch (err) {
        rethrowLater(err);
      }
    }
  }

  #protocolFailure(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.#fail(new WhiteroomConnectionError('protocol', `the sidecar wrote something that is not a JSON-RPC message: ${message}`, { cause: err }));
    if (this.process && this.process.exitCode === null) this.process.kill('SIGKILL');
  }

  #readEnded(err?: Error): void {
    if (this.#failure || this.#readDone) return;
    this.#readDone = true;
    try {
      this.#reader.end();
    } catch (e) {
      this.#protocolFailure(e);
      return;
    }
    const done = (exit?: Exit): void => {
      const stderr = this.#stderr.trim();
      const how = exit ? (exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`) : 'closed its output';
      const error = this.#closing
        ? new WhiteroomConnectionError('closed', `the client was closed; the sidecar ${how}`, { exitCode: exit?.code, signal: exit?.signal, stderr })
        : err
          ? new WhiteroomConnectionError('stream-error', `reading from the sidecar failed: ${err.message}`, { cause: err, exitCode: exit?.code, signal: exit?.signal, stderr })
          : new WhiteroomConnectionError('exited', `the sidecar ${how} before answering${stderr ? `: ${stderr.split('\n').slice(-5).join('\n')}` : ''}`, {
              exitCode: exit?.code,
              signal: exit?.signal,
              stderr,
            });
      this.#fail(error, exit);
    };
    if (!this.#exited) return done();
    // The process's exit (and the rest of its stderr) usually follows its stdout's end at once.
    let timer: NodeJS.Timeout | undefined;
    void Promise.race([
      this.#exited,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 1000))),
    ]).then((exit) => {
      clearTimeout(timer);
      const settleStderr = this.process?.stderr;
      if (exit && settleStderr && !settleStderr.readableEnded) {
        settleStderr.once('end', () => done(exit));
        settleStderr.once('close', () => done(exit));
        setTimeout(() => done(exit), 200).unref();
      } else done(exit);
    });
  }

  #fail(error: WhiteroomConnectionError, exit?: Exit): void {
    if (this.#failure) return;
    this.#failure = error;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#byToken.clear();
    for (const p of pending) {
      p.cleanup?.();
      p.reject(error);
    }
    this.#emit('close', { ...(exit ? { exit } : {}), error });
    this.#markClosed();
  }
}
