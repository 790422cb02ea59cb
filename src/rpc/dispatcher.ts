/**
 * Dispatch: one parsed JSON-RPC message (or batch) in, the response(s) out.
 *
 * Looks the method up, validates params with its ajv validator (compiled at build time from
 * rpc-schema/), calls the handler and maps whatever it throws to the contract's error table.
 * Requests run one at a time in arrival order (the server's queue); a handler that returns a
 * promise holds the queue until it settles.
 */
import { ErrorCode, RpcError, invalidParams, type ParamError } from '../errors.js';
import { textOf } from '../json-text.js';

export type Id = string | number | null;

/** One error of an ajv validator (the fields the dispatcher reads). */
export interface ValidationError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** An ajv validator, as compiled by scripts/gen.mjs into src/generated/validators.ts. */
export interface Validator {
  (data: unknown): boolean;
  errors?: ValidationError[] | null;
}

export interface Response {
  jsonrpc: '2.0';
  id: Id;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** What a handler gets besides its params. */
export interface RequestContext {
  /** The request id; undefined for a notification. */
  readonly id: Id | undefined;
  /** True once the host sent $/cancelRequest for this request. Long operations poll it. */
  readonly cancelled: boolean;
  /**
   * The request exactly as it arrived (a JSON text whose `params` are the validated params), when
   * the transport kept it: single messages from the wire, not batch members or in-process calls.
   */
  readonly text: string | undefined;
}

export type Handler = (params: never, ctx: RequestContext) => unknown;

/** A method: its name, its params validator, its handler. */
export interface MethodEntry {
  readonly name: string;
  readonly validate: Validator;
  readonly handler: Handler;
  /**
   * A long operation that runs beside the queue (backup.create): while it awaits, the requests
   * behind it are served. Only for work that stays consistent under writes between its steps.
   */
  readonly beside?: boolean;
}

const BESIDE = Symbol('runs beside the queue');

/** True for the answer of a request that runs beside the queue (see MethodEntry.beside). */
export const runsBeside = (p: Promise<unknown>): boolean => (p as { [BESIDE]?: boolean })[BESIDE] === true;

export interface DispatcherOptions {
  /** Maps a thrown value (by the method named) to a contract error (e.g. SQLite failures); undefined when it cannot. */
  mapError?: (err: unknown, method: string) => RpcError | undefined;
  /** Told about every error that becomes InternalError: a bug. */
  onInternalError?: (err: unknown, method: string | undefined) => void;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isValidId = (v: unknown): v is Id =>
  typeof v === 'string' || v === null || (typeof v === 'number' && Number.isFinite(v));

export const errorResponse = (id: Id, err: RpcError): Response => ({ jsonrpc: '2.0', id, error: err.toJSON() });

/** ajv's errors as the contract's `[{path, message}]`, paths being JSON pointers into params. */
export function paramErrors(errors: readonly ValidationError[]): ParamError[] {
  const out: ParamError[] = [];
  const seen = new Set<string>();
  const ptr = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');
  for (const e of errors) {
    let path = e.instancePath;
    let message = e.message ?? e.keyword;
    if (e.keyword === 'additionalProperties') {
      path += `/${ptr(String(e.params.additionalProperty))}`;
      message = 'is not a known field';
    } else if (e.keyword === 'required') {
      path += `/${ptr(String(e.params.missingProperty))}`;
      message = 'is required';
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'const') {
      message = `must be ${JSON.stringify(e.params.allowedValue)}`;
    }
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message });
  }
  return out;
}

/** A request's context (a class: an object literal with a getter costs more to make per request). */
class Context implements RequestContext {
  readonly #cancelled: ReadonlySet<Id>;

  constructor(
    readonly id: Id | undefined,
    readonly text: string | undefined,
    cancelled: ReadonlySet<Id>,
  ) {
    this.#cancelled = cancelled;
  }

  get cancelled(): boolean {
    return this.id !== undefined && this.#cancelled.has(this.id);
  }
}

export class Dispatcher {
  readonly #methods: ReadonlyMap<string, MethodEntry>;
  readonly #options: DispatcherOptions;
  /** Ids of requests the host cancelled (checked when each request starts and by long operations). */
  readonly #cancelled = new Set<Id>();
  #refusal: RpcError | undefined;

  constructor(methods: Iterable<MethodEntry>, options: DispatcherOptions = {}) {
    this.#methods = new Map([...methods].map((m) => [m.name, m]));
    this.#options = options;
  }

  /** Method names this dispatcher serves. */
  get methodNames(): string[] {
    return [...this.#methods.keys()];
  }

  /** From now on every request is answered `err` (shutdown). */
  refuseAll(err: RpcError): void {
    this.#refusal = err;
  }

  /** Marks a request cancelled ($/cancelRequest arrives out of band, see Server). */
  cancel(id: Id): void {
    this.#cancelled.add(id);
  }

  /**
   * Handles one message: a request, a notification or a batch. Returns what to send back:
   * a response, an array of responses (a batch), or undefined (notifications only). Returns a
   * promise only when a handler did; synchronous handlers are answered synchronously.
   */
  handle(message: unknown): Response | Response[] | undefined | Promise<Response | Response[] | undefined> {
    if (!Array.isArray(message)) return this.#handleOne(message);
    if (message.length === 0) {
      return errorResponse(null, new RpcError(ErrorCode.InvalidRequest, 'Invalid request: empty batch'));
    }
    const responses: Response[] = [];
    const collect = (r: Response | undefined): void => {
      if (r) responses.push(r);
    };
    // Batch members run in order, one after another, like separate requests.
    for (let i = 0; i < message.length; i++) {
      const r = this.#handleOne(message[i]);
      if (r instanceof Promise) {
        return (async () => {
          collect(await r);
          for (let j = i + 1; j < message.length; j++) collect(await this.#handleOne(message[j]));
          return responses.length ? responses : undefined;
        })();
      }
      collect(r);
    }
    return responses.length ? responses : undefined;
  }

  #handleOne(msg: unknown): Response | undefined | Promise<Response | undefined> {
    if (!isPlainObject(msg) || msg.jsonrpc !== '2.0' || typeof msg.method !== 'string') {
      const id = isPlainObject(msg) && isValidId(msg.id) ? msg.id : null;
      return errorResponse(
        id,
        new RpcError(ErrorCode.InvalidRequest, 'Invalid request: expected {"jsonrpc": "2.0", "method": string, ...}'),
      );
    }
    const isNotification = !('id' in msg);
    if (!isNotification && !isValidId(msg.id)) {
      return errorResponse(null, new RpcError(ErrorCode.InvalidRequest, 'Invalid request: id must be a string, number or null'));
    }
    const id = isNotification ? undefined : (msg.id as Id);
    const method = msg.method;
    const answer = (r: Response): Response | undefined => (isNotification ? undefined : r);

    if (this.#refusal) return answer(errorResponse(id ?? null, this.#refusal));
    if (id !== undefined && this.#cancelled.delete(id)) {
      return answer(errorResponse(id, new RpcError(ErrorCode.RequestCancelled, 'Request cancelled before it started')));
    }

    const entry = this.#methods.get(method);
    if (!entry) {
      // $/ notifications are optional by protocol: ignore the ones we do not implement.
      if (isNotification && method.startsWith('$/')) return undefined;
      return answer(errorResponse(id ?? null, new RpcError(ErrorCode.MethodNotFound, `Method not found: ${method}`, { method })));
    }

    let params = msg.params;
    if (params === undefined) params = {};
    else if (!isPlainObject(params)) {
      return answer(
        errorResponse(id ?? null, invalidParams([{ path: '', message: 'params must be an object of named parameters' }])),
      );
    }
    if (!entry.validate(params)) {
      return answer(errorResponse(id ?? null, invalidParams(paramErrors(entry.validate.errors ?? []))));
    }

    const ctx = this.#context(id, textOf(msg));
    let result: unknown;
    try {
      result = entry.handler(params as never, ctx);
    } catch (err) {
      return answer(errorResponse(id ?? null, this.#toRpcError(err, method)));
    }
    if (result instanceof Promise) {
      const answered = result.then(
        (value) => answer({ jsonrpc: '2.0', id: id ?? null, result: value ?? null }),
        (err) => answer(errorResponse(id ?? null, this.#toRpcError(err, method))),
      ).finally(() => {
        if (id !== undefined) this.#cancelled.delete(id);
      });
      if (entry.beside) Object.defineProperty(answered, BESIDE, { value: true });
      return answered;
    }
    return answer({ jsonrpc: '2.0', id: id ?? null, result: result ?? null });
  }

  #context(id: Id | undefined, text: string | undefined): RequestContext {
    return new Context(id, text, this.#cancelled);
  }

  #toRpcError(err: unknown, method: string): RpcError {
    if (err instanceof RpcError) return err;
    const mapped = this.#options.mapError?.(err, method);
    if (mapped) return mapped;
    this.#options.onInternalError?.(err, method);
    const detail = err instanceof Error ? err.message : String(err);
    return new RpcError(ErrorCode.InternalError, `Internal error (a bug; details in logs/persistence.log): ${detail}`);
  }
}
