/**
 * The server: a reader feeding one queue, the dispatcher draining it one message at a time in
 * arrival order, a writer for answers and notifications.
 *
 * Background jobs (autosave promotions from timers) take their turn in the same queue.
 * Only `$/cancelRequest` skips the queue: it must reach a long request while that request runs.
 * Synchronous handlers (nearly all: better-sqlite3 is synchronous) are answered in the same tick
 * their message arrived in; an asynchronous one holds the queue until it settles, so a write's
 * transaction never interleaves with another request's work.
 *
 * Backpressure: while the host is not reading the answers (the writer is blocked), the queue takes
 * no more requests and the reader stops reading, so the host's writes block instead of the
 * sidecar's memory growing; both resume when the output drains. Reading also stops while the
 * queue holds more than DEFAULT_MAX_QUEUED_CHARS of requests (a host flooding a long request).
 *
 * Refusals: a message nested deeper than MAX_JSON_DEPTH, or holding a string that is not Unicode
 * (a lone surrogate), is refused here, before any handler sees it: -32602 at the JSON pointer of
 * the value when it lies in params, else -32600.
 */
import type { MessageReader } from 'vscode-jsonrpc/node';
import { ErrorCode, RpcError, invalidParams } from '../errors.js';
import { jsonPointer, MAX_JSON_DEPTH, pathNotUnicode, pathTooDeep, SURROGATE_ESCAPE } from '../json-limits.js';
import { errorResponse, runsBeside, type Dispatcher, type Id, type Response } from './dispatcher.js';
import { textOf } from '../json-text.js';
import { FramingError, type StreamMessageWriter } from './transport.js';

export interface ServerLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Requests queued (as JSON text) past which the server stops reading input: 64 Mi characters. */
export const DEFAULT_MAX_QUEUED_CHARS = 64 * 1024 * 1024;

export interface ServerOptions {
  reader: MessageReader & { pause(): void; resume(): void };
  writer: StreamMessageWriter;
  dispatcher: Dispatcher;
  log: ServerLog;
  /** Called once when the input has ended and every message it carried has been answered. */
  onInputEnd: () => void;
  /** Called once if the output fails (the host closed its end of the pipe). */
  onOutputError: (err: Error) => void;
  /** Reading pauses while more than this many characters of requests wait (default DEFAULT_MAX_QUEUED_CHARS). */
  maxQueuedChars?: number;
}

/** Work of the sidecar's own (a timer's autosave) that takes its turn in the queue like a request. */
class Job {
  constructor(readonly run: () => void) {}
}

type Item = unknown | FramingError | Job;

export class Server {
  readonly #o: ServerOptions;
  readonly #queue: Item[] = [];
  #busy = false;
  /** Characters of JSON text in the queue (an estimate of its memory). */
  #queuedChars = 0;
  #readingPaused = false;
  #inputEnded = false;
  #endReported = false;
  #idleWaiters: (() => void)[] = [];
  /** Ids of the requests being handled now (a message, or a batch's members). */
  #running = new Set<unknown>();
  /** Requests running beside the queue (backup.create), by id. */
  #beside = new Map<unknown, Promise<unknown>>();

  constructor(options: ServerOptions) {
    this.#o = options;
  }

  start(): void {
    const { reader, writer, log } = this.#o;
    reader.onError((err) => {
      if (err instanceof FramingError) this.#enqueue(err);
      else log.error({ err }, 'input failed');
    });
    reader.onClose(() => {
      this.#inputEnded = true;
      this.#pump();
    });
    let outputFailed = false;
    writer.onError(([err]) => {
      if (outputFailed) return;
      outputFailed = true;
      this.#o.onOutputError(err);
    });
    writer.onDrain(() => this.#pump());
    reader.listen((msg) => this.#enqueue(msg));
  }

  /** Sends a notification to the host. */
  notify(method: string, params: unknown): void {
    void this.#o.writer.write({ jsonrpc: '2.0', method, params } as never);
  }

  /** Runs `job` in the queue after the messages already in it, never while a request runs. Errors are logged. */
  schedule(job: () => void): void {
    this.#queue.push(new Job(job));
    this.#pump();
  }

  /** Resolves when no request is running (queued ones may remain). */
  idle(): Promise<void> {
    if (!this.#busy && this.#beside.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Answers every queued message with `err` and empties the queue (shutdown). */
  refuseQueued(err: RpcError): void {
    this.#queuedChars = 0;
    for (const item of this.#queue.splice(0)) {
      if (item instanceof FramingError || item instanceof Job) continue;
      for (const m of Array.isArray(item) ? item : [item]) {
        const id = (m as { id?: unknown }).id;
        if (typeof m === 'object' && m !== null && 'id' in m && (typeof id === 'string' || typeof id === 'number')) {
          this.#send(errorResponse(id, err));
        }
      }
    }
  }

  #enqueue(item: Item): void {
    const m = item as { method?: unknown; id?: unknown; params?: { id?: unknown } };
    if (typeof m === 'object' && m !== null && m.method === '$/cancelRequest' && !('id' in m)) {
      const id = m.params?.id;
      // Only a request still queued or running can be cancelled: a late cancel (its answer already
      // sent) is ignored, or it would refuse the next request that reuses the id.
      const pending = this.#running.has(id) || this.#beside.has(id) || this.#queue.some((q) => idsOf(q).includes(id));
      if (pending && (typeof id === 'string' || typeof id === 'number')) this.#o.dispatcher.cancel(id);
      return;
    }
    this.#queue.push(item);
    this.#queuedChars += textOf(item)?.length ?? 0;
    this.#pump();
  }

  /** Whether the next queued item may run now: never while a request runs, jobs even when the host is not reading. */
  #mayRun(): boolean {
    return !this.#busy && this.#queue.length > 0 && (!this.#o.writer.blocked || this.#queue[0] instanceof Job);
  }

  /** Pauses or resumes reading input: read only while answers are read and the queue is short. */
  #flow(): void {
    const read = !this.#o.writer.blocked && this.#queuedChars <= (this.#o.maxQueuedChars ?? DEFAULT_MAX_QUEUED_CHARS);
    if (read === !this.#readingPaused) return;
    this.#readingPaused = !read;
    if (read) this.#o.reader.resume();
    else this.#o.reader.pause();
  }

  #pump(): void {
    this.#drain();
    this.#flow();
  }

  #drain(): void {
    while (this.#mayRun()) {
      const item = this.#queue.shift();
      this.#queuedChars -= textOf(item)?.length ?? 0;
      if (item instanceof Job) {
        try {
          item.run();
        } catch (err) {
          this.#o.log.error({ err }, 'background job failed');
        }
        continue;
      }
      if (item instanceof FramingError) {
        this.#send(this.#framingErrorResponse(item));
        continue;
      }
      const ids = idsOf(item);
      for (const id of ids) this.#running.add(id);
      const out = this.#handle(item);
      if (out instanceof Promise && runsBeside(out)) {
        // A long operation that lets the queue go on; its answer is sent when it is done.
        const key = ids[0];
        this.#running.clear();
        this.#beside.set(
          key,
          this.#sendWhenDone(out).finally(() => {
            this.#beside.delete(key);
            this.#wakeIdle();
            this.#pump();
          }),
        );
        continue;
      }
      if (out instanceof Promise) {
        // The queue waits for it, then goes on.
        this.#busy = true;
        void this.#sendWhenDone(out).finally(() => {
          this.#running.clear();
          this.#busy = false;
          this.#wakeIdle();
          this.#pump();
        });
        return;
      }
      this.#running.clear();
      this.#send(out);
    }
    if (!this.#busy && this.#beside.size === 0 && this.#queue.length === 0 && this.#inputEnded && !this.#endReported) {
      this.#endReported = true;
      this.#o.onInputEnd();
    }
  }

  /**
   * Dispatches a message, refusing first what must not reach a handler (see `refusal`): a batch's
   * refused members alone, the others run in order as in Dispatcher.handle.
   */
  #handle(item: unknown): ReturnType<Dispatcher['handle']> {
    const text = textOf(item);
    const surrogates = text === undefined || SURROGATE_ESCAPE.test(text);
    if (!Array.isArray(item)) {
      const refused = refusal(item, 0, surrogates);
      return refused ? refused.answer : this.#o.dispatcher.handle(item);
    }
    if (!refusal(item, 0, surrogates)) return this.#o.dispatcher.handle(item);
    const answers: Response[] = [];
    const run = (i: number): Response[] | undefined | Promise<Response[] | undefined> => {
      for (; i < item.length; i++) {
        // Members are one level deeper inside their batch. A one-member batch, so that a member
        // that is itself an array is answered as the dispatcher answers it.
        const refused = refusal(item[i], 1, surrogates);
        const r = refused ? refused.answer : this.#o.dispatcher.handle([item[i]]);
        if (r instanceof Promise) {
          const next = i + 1;
          return r.then((a) => {
            if (a) answers.push(...[a].flat());
            return run(next);
          });
        }
        if (r) answers.push(...[r].flat());
      }
      return answers.length ? answers : undefined;
    };
    return run(0);
  }

  #wakeIdle(): void {
    if (this.#busy || this.#beside.size > 0) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Sends the answer of an asynchronous request once it is there. */
  #sendWhenDone(out: Promise<Response | Response[] | undefined>): Promise<void> {
    return out.then(
      (r) => this.#send(r),
      (err) => this.#o.log.error({ err }, 'dispatch failed'),
    );
  }

  #framingErrorResponse(err: FramingError): Response {
    this.#o.log.warn({ reason: err.message }, err.kind === 'parse' ? 'unparseable input' : 'message too large');
    return err.kind === 'parse'
      ? errorResponse(null, new RpcError(ErrorCode.ParseError, `Parse error: ${err.message}`))
      : errorResponse(null, new RpcError(ErrorCode.InvalidRequest, `Invalid request: ${err.message}`));
  }

  #send(out: Response | Response[] | undefined): void {
    if (out !== undefined) void this.#o.writer.write(out as never);
  }
}

const isValidId = (v: unknown): v is Id =>
  typeof v === 'string' || v === null || (typeof v === 'number' && Number.isFinite(v));

/**
 * Whether a message must be refused before any handler sees it, and the answer: nested deeper
 * than MAX_JSON_DEPTH (`outer`: levels around it, 1 in a batch), or holding a string that is not
 * Unicode (a lone surrogate, which SQLite would store as bytes that read back as U+FFFD; checked
 * only when `surrogates`, i.e. its text has a surrogate escape). The answer is -32602 at the JSON
 * pointer into params when the value lies in them, else -32600; none for a notification.
 */
function refusal(msg: unknown, outer: number, surrogates: boolean): { answer: Response | undefined } | undefined {
  const deep = pathTooDeep(msg, MAX_JSON_DEPTH - outer);
  const path = deep ?? (surrogates ? pathNotUnicode(msg) : undefined);
  if (path === undefined) return undefined;
  const problem = deep
    ? `is nested deeper than ${MAX_JSON_DEPTH} levels (the limit of a message)`
    : 'holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair): not Unicode text, so it cannot be stored as sent';
  const m = typeof msg === 'object' && msg !== null && !Array.isArray(msg) ? (msg as Record<string, unknown>) : undefined;
  if (m && !('id' in m) && typeof m.method === 'string') return { answer: undefined }; // a notification: refused silently
  const id = m && isValidId(m.id) ? m.id : null;
  if (m && typeof m.method === 'string' && path[0] === 'params' && path.length > 1) {
    return { answer: errorResponse(id, invalidParams([{ path: jsonPointer(path.slice(1)), message: problem }])) };
  }
  return { answer: errorResponse(id, new RpcError(ErrorCode.InvalidRequest, `Invalid request: the value at ${jsonPointer(path) || '/'} ${problem}`)) };
}

/** The ids of the requests in a queued item (a message or a batch). */
function idsOf(item: unknown): unknown[] {
  if (item instanceof FramingError || item instanceof Job) return [];
  const ids: unknown[] = [];
  for (const m of Array.isArray(item) ? item : [item]) {
    if (typeof m === 'object' && m !== null && 'id' in m) ids.push((m as { id: unknown }).id);
  }
  return ids;
}
