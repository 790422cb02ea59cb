/**
 * The server: a reader feeding one queue, the dispatcher draining it one message at a time in
 * arrival order, a writer for answers and notifications.
 *
 * Background jobs (autosave promotions from timers) take their turn in the same queue.
 * Only `$/cancelRequest` skips the queue: it must reach a long request while that request runs.
 * Synchronous handlers (nearly all: better-sqlite3 is synchronous) are answered in the same tick
 * their message arrived in; an asynchronous one holds the queue until it settles, so a write's
 * transaction never interleaves with another request's work.
 */
import type { MessageReader } from 'vscode-jsonrpc/node';
import { ErrorCode, RpcError } from '../errors.js';
import { errorResponse, runsBeside, type Dispatcher, type Response } from './dispatcher.js';
import { FramingError, type StreamMessageWriter } from './transport.js';

export interface ServerLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ServerOptions {
  reader: MessageReader;
  writer: StreamMessageWriter;
  dispatcher: Dispatcher;
  log: ServerLog;
  /** Called once when the input has ended and every message it carried has been answered. */
  onInputEnd: () => void;
  /** Called once if the output fails (the host closed its end of the pipe). */
  onOutputError: (err: Error) => void;
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
    this.#pump();
  }

  #pump(): void {
    while (!this.#busy && this.#queue.length > 0) {
      const item = this.#queue.shift();
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
      const out = this.#o.dispatcher.handle(item);
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

/** The ids of the requests in a queued item (a message or a batch). */
function idsOf(item: unknown): unknown[] {
  if (item instanceof FramingError || item instanceof Job) return [];
  const ids: unknown[] = [];
  for (const m of Array.isArray(item) ? item : [item]) {
    if (typeof m === 'object' && m !== null && 'id' in m) ids.push((m as { id: unknown }).id);
  }
  return ids;
}
