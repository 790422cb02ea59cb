/** The errors a client call rejects with. */
import { ErrorCode } from '../generated/errors.js';
import type { ErrorDataByCode } from '../generated/client.js';

/** The `data` type of an error code: the code's schema in rpc-schema/errors.json, else unknown (any for `any`). */
export type ErrorData<C extends number> = 0 extends 1 & C ? any : `${C}` extends keyof ErrorDataByCode ? ErrorDataByCode[`${C}`] : unknown;

/**
 * An error answer of the sidecar: `code` from the contract's table (ErrorCode), `message` as the
 * sidecar wrote it, `data` typed by code (narrow with `is`), and the method it answered.
 * -32800 (RequestCancelled: the call was aborted) is named "AbortError".
 */
export class WhiteroomError<C extends number = number> extends Error {
  readonly code: C;
  readonly data: ErrorData<C>;
  /** The method of the call this error answers. */
  readonly method: string;

  constructor(code: C, message: string, data: ErrorData<C>, method: string) {
    super(message);
    this.name = code === ErrorCode.RequestCancelled ? 'AbortError' : 'WhiteroomError';
    this.code = code;
    this.data = data;
    this.method = method;
  }

  /** Whether this is an error of `code`; narrows `data` to that code's type. */
  is<K extends ErrorCode>(code: K): this is WhiteroomError<K> {
    return (this.code as number) === code;
  }

  /** The JSON-RPC `error` member this was made from. */
  toJSON(): { code: number; message: string; data?: unknown } {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }
}

/** Why the connection is gone. */
export type ConnectionFailure =
  /** close() was called (or the client was disposed) before this call was answered. */
  | 'closed'
  /** The sidecar exited (or closed its stdout) before answering. */
  | 'exited'
  /** A stream failed (spawn failure, read error). */
  | 'stream-error'
  /** The sidecar wrote something that is not a JSON-RPC message in the framing. */
  | 'protocol';

/**
 * The call was never answered because the connection is gone: the process exited or crashed, a
 * stream broke, or close() ran. Every call pending at that moment rejects with it, and so does
 * every later call. Distinct from WhiteroomError, which is an answer.
 */
export class WhiteroomConnectionError extends Error {
  readonly reason: ConnectionFailure;
  /** The process's exit, when it was spawned and has exited. */
  readonly exitCode: number | null | undefined;
  readonly signal: NodeJS.Signals | null | undefined;
  /** The end of what the process wrote to stderr (spawned with `stderr: 'pipe'`). */
  readonly stderr: string | undefined;

  constructor(
    reason: ConnectionFailure,
    message: string,
    more: { exitCode?: number | null; signal?: NodeJS.Signals | null; stderr?: string; cause?: unknown } = {},
  ) {
    super(message, more.cause === undefined ? undefined : { cause: more.cause });
    this.name = 'WhiteroomConnectionError';
    this.reason = reason;
    this.exitCode = more.exitCode;
    this.signal = more.signal;
    this.stderr = more.stderr;
  }
}
