/**
 * The one error type of the sidecar. Every failure a host can see is an RpcError whose code
 * comes from the contract's table (rpc-schema/errors.json) and whose `data` carries what a host
 * needs to act on it. Anything else that escapes a handler is a bug and answers InternalError.
 */
import { ErrorCode, ERROR_MESSAGES } from './generated/errors.js';

export { ErrorCode };

export class RpcError extends Error {
  readonly code: ErrorCode;
  readonly data: unknown;

  constructor(code: ErrorCode, message: string = ERROR_MESSAGES[code], data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }

  /** The JSON-RPC `error` member. */
  toJSON(): { code: number; message: string; data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

/** One validation failure: a JSON pointer into the params and what is wrong there. */
export interface ParamError {
  path: string;
  message: string;
}

export const invalidParams = (errors: ParamError[]): RpcError => {
  const first = errors[0];
  const summary = first ? `${first.path || '/'} ${first.message}` : 'params do not match the schema';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new RpcError(ErrorCode.InvalidParams, `Invalid params: ${summary}${more}`, { errors });
};

export const notFound = (entity: string, id: string): RpcError =>
  new RpcError(ErrorCode.NotFound, `${entity}: no record with id "${id}"`, { entity, id });

export const conflict = (entity: string, id: string, expected: number, actual: number): RpcError =>
  new RpcError(
    ErrorCode.Conflict,
    `${entity} "${id}" is at revision ${actual}, not ${expected}: it was changed since you read it`,
    { entity, id, expected, actual },
  );

export const alreadyExists = (entity: string, id: string): RpcError =>
  new RpcError(ErrorCode.AlreadyExists, `${entity}: a record with id "${id}" already exists`, { entity, id });

/**
 * A reference that would point nowhere, or break a rule between records. `more` adds what a host
 * needs beyond `{entity, field, value}` to act (the JSON pointer of the value, the records in the way).
 */
export const constraintViolation = (entity: string, field: string, value: unknown, why?: string, more?: Record<string, unknown>): RpcError =>
  new RpcError(
    ErrorCode.ConstraintViolation,
    why ?? `${entity}.${field} refers to ${JSON.stringify(value)}, which does not exist`,
    { entity, field, value, ...more },
  );

/** StorageCorrupt: the file holds something the store never writes. `data: {details}`. */
export const storageCorrupt = (details: string): RpcError =>
  new RpcError(ErrorCode.StorageCorrupt, `The database file is damaged: ${details}`, { details });

/** A long operation stopped by $/cancelRequest, having left nothing behind. */
export const requestCancelled = (): RpcError =>
  new RpcError(ErrorCode.RequestCancelled, 'Request cancelled; nothing was written');

export const shuttingDown = (): RpcError =>
  new RpcError(ErrorCode.ShuttingDown, 'The store is shutting down; no new requests are taken');

/**
 * A method that writes, asked of a database opened read-only (`whiteroom-store inspect`, or
 * `--read-only`): refused before it runs, or when SQLite refuses a write it tried. `why` says
 * what would have written when the method itself is a read (system.doctor's vacuum).
 */
export const readOnlyRefused = (method: string, why = `${method} writes`): RpcError =>
  new RpcError(
    ErrorCode.ReadOnly,
    `${why}, and this whiteroom-store opened the database read-only (inspect, or --read-only): nothing was written. ` +
      'To write, use the app, or make the request with `whiteroom-store call` (not inspect) while the app is not running',
    { reason: 'read-only', method },
  );
