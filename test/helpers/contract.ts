/**
 * The contract's error rules, checkable: every error a method answers must be one its schema file
 * declares (`errors` in rpc-schema/methods/<method>.json) or one any request can get, and its
 * `data` must carry what the error table promises a host (rpc-schema/errors.json, docs/protocol.md).
 * Used by `fails`/`invalid` (test/helpers/rpc.ts) and by the fuzzer (test/adversarial/).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './process.js';

export interface WireError {
  code: number;
  message: string;
  data?: any;
}

const readJson = (path: string): any => JSON.parse(readFileSync(path, 'utf8'));

/** Each method's schema file, by method name. */
export const METHOD_SPECS: Readonly<Record<string, any>> = Object.fromEntries(
  readdirSync(join(ROOT, 'rpc-schema', 'methods'))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f.replace(/\.json$/, ''), readJson(join(ROOT, 'rpc-schema', 'methods', f))]),
);

/**
 * The schema of each code's `data` (errors.json `dataSchemas`, from which the typed client's error
 * types are made): every error answered in a test is held to it, so those types stay true.
 */
const DATA_SCHEMAS: ReadonlyMap<number, ValidateFunction> = (() => {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const schemas = readJson(join(ROOT, 'rpc-schema', 'errors.json')).dataSchemas as Record<string, object>;
  return new Map(Object.entries(schemas).map(([code, schema]) => [Number(code), ajv.compile(schema)]));
})();

/** The contract's error table, by code. */
export const ERROR_TABLE: ReadonlyMap<number, { code: number; name: string; message: string }> = new Map(
  (readJson(join(ROOT, 'rpc-schema', 'errors.json')).errors as { code: number; name: string; message: string }[]).map((e) => [e.code, e]),
);

/**
 * Codes any request can be answered whatever its method: framing and request shape (-32700,
 * -32600), an unknown method (-32601), params that fail the schema (-32602), a request that
 * arrives during shutdown (-32030) or that the host cancelled before it started (-32800).
 */
export const GENERIC_ERROR_CODES: readonly number[] = [-32700, -32600, -32601, -32602, -32030, -32800];

/** The reasons FileRefused (-32022) names (rpc-schema/errors.json). */
export const FILE_REFUSED_REASONS: readonly string[] = [
  'outside', 'not-found', 'not-a-file', 'exists', 'protected', 'symlink', 'permission', 'no-folder', 'name', 'too-many-files', 'io',
];

/** ReadOnly: what a method not marked `"x-read-only": true` answers when the database is open read-only. */
export const READ_ONLY_REFUSAL = -32013;

/**
 * The codes `method` may answer: those its schema declares, the generic ones, and ReadOnly for a
 * method that writes (scripts/gen.mjs adds it to such a method's errors in rpc.discover).
 */
export function allowedErrorCodes(method: string): Set<number> {
  const spec = METHOD_SPECS[method];
  const writes = spec !== undefined && spec['x-read-only'] !== true;
  return new Set([...GENERIC_ERROR_CODES, ...((spec?.errors as number[] | undefined) ?? []), ...(writes ? [READ_ONLY_REFUSAL] : [])]);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with the `data` of an error of `code` (empty when nothing). */
function dataProblems(code: number, data: any): string[] {
  const need = (ok: boolean, what: string): string[] => (ok ? [] : [`data ${what}; got ${JSON.stringify(data)}`]);
  switch (code) {
    case -32601:
      return need(isObject(data) && isString(data.method), 'is {method}');
    case -32602:
      return need(
        isObject(data) &&
          Array.isArray(data.errors) &&
          data.errors.length > 0 &&
          data.errors.every((e: any) => isObject(e) && isString(e.path) && (e.path === '' || e.path.startsWith('/')) && isString(e.message) && e.message !== ''),
        'is {errors: [{path (a JSON pointer), message}, ...]}',
      );
    case -32001:
    case -32003:
      return need(isObject(data) && isString(data.entity) && isString(data.id), 'is {entity, id} (strings)');
    case -32002:
      return need(
        isObject(data) && isString(data.entity) && isString(data.id) && Number.isInteger(data.expected) && Number.isInteger(data.actual),
        'is {entity, id, expected, actual}',
      );
    case -32004:
      // A host acts on which field of which entity refers to what: none of them may be null.
      return need(
        isObject(data) && isString(data.entity) && isString(data.field) && data.value !== null && data.value !== undefined,
        'is {entity, field, value}, none of them null',
      );
    case -32012:
      return need(isObject(data) && isString(data.details), 'is {details}');
    case -32013:
      return need(isObject(data) && data.reason === 'read-only' && isString(data.method), 'is {reason: "read-only", method}');
    case -32020:
      return need(isObject(data) && isString(data.reason), 'is {reason}');
    case -32021:
      return need(isObject(data) && Array.isArray(data.errors), 'is {errors}');
    case -32022:
      return need(
        isObject(data) && isString(data.path) && FILE_REFUSED_REASONS.includes(data.reason),
        `is {path, reason: ${FILE_REFUSED_REASONS.join(' | ')}}`,
      );
    default:
      return [];
  }
}

/**
 * Everything an error answered to `method` breaks in the contract: InternalError (a bug), a code
 * outside the table, a code the method does not declare, a missing message, `data` without what
 * the table promises. Empty when the error is a contract error.
 */
export function contractProblems(method: string, error: WireError): string[] {
  const problems: string[] = [];
  if (!isObject(error) || !Number.isInteger(error.code)) return [`not an error object: ${JSON.stringify(error)}`];
  if (error.code === -32603) problems.push(`InternalError (a bug): ${error.message}`);
  else if (!ERROR_TABLE.has(error.code)) problems.push(`code ${error.code} is not in rpc-schema/errors.json`);
  else if (!allowedErrorCodes(method).has(error.code)) {
    problems.push(`code ${error.code} is not declared in rpc-schema/methods/${method}.json (errors: ${JSON.stringify(METHOD_SPECS[method]?.errors)})`);
  }
  if (!isString(error.message) || error.message === '') problems.push('message is empty');
  const data = dataProblems(error.code, error.data);
  problems.push(...data);
  const schema = DATA_SCHEMAS.get(error.code);
  if (data.length === 0 && schema && !schema(error.data)) {
    problems.push(`data does not match rpc-schema/errors.json dataSchemas["${error.code}"]: ${JSON.stringify(schema.errors)}; got ${JSON.stringify(error.data)}`);
  }
  return problems;
}
