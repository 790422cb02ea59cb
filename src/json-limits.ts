/**
 * The one nesting limit of the sidecar's JSON.
 *
 * Every JSON value the sidecar takes in (a message from the host, an import file, a JSON column
 * of a backup it is asked to restore) is at most MAX_JSON_DEPTH levels deep. The limit is
 * enforced where the bytes are read, so nothing deeper is ever stored, and nothing stored can
 * later fail to serialise, compare or validate (recursive code has a stack; 1,000 levels are far
 * from it, and far beyond any song a musician makes).
 */

/** The deepest nesting of arrays and objects accepted anywhere: 1,000 levels. */
export const MAX_JSON_DEPTH = 1000;

/**
 * The path (keys and indexes, from the root) to the first array or object that lies deeper than
 * `limit` levels in `value`, or undefined when nothing does. A scalar is depth 0, `[]` depth 1.
 * Iterative: a value nested a million deep is walked without recursion.
 */
export function pathTooDeep(value: unknown, limit: number = MAX_JSON_DEPTH): (string | number)[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  // Depth-first, with an explicit stack of [container, depth, key in its parent, parent frame].
  interface Frame {
    value: object;
    depth: number;
    key: string | number | undefined;
    parent: Frame | undefined;
  }
  const stack: Frame[] = [{ value, depth: 1, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.depth > limit) {
      const path: (string | number)[] = [];
      for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) path.push(f.key);
      return path.reverse();
    }
    if (Array.isArray(frame.value)) {
      const a = frame.value as unknown[];
      for (let i = 0; i < a.length; i++) {
        const v = a[i];
        if (typeof v === 'object' && v !== null) stack.push({ value: v, depth: frame.depth + 1, key: i, parent: frame });
      }
    } else {
      const o = frame.value as Record<string, unknown>;
      for (const k in o) {
        const v = o[k];
        if (typeof v === 'object' && v !== null) stack.push({ value: v, depth: frame.depth + 1, key: k, parent: frame });
      }
    }
  }
  return undefined;
}

/** A JSON pointer (RFC 6901) of a path of keys and indexes. */
export const jsonPointer = (path: readonly (string | number)[]): string =>
  path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/** The JSON pointer of the first value nested deeper than the limit (the full path: it is exact). */
export function tooDeepPointer(value: unknown, limit: number = MAX_JSON_DEPTH): string | undefined {
  const path = pathTooDeep(value, limit);
  return path === undefined ? undefined : jsonPointer(path);
}

/** A `\uD800`-`\uDFFF` escape: the only way a surrogate can reach a string parsed from JSON (raw UTF-8 cannot encode one). */
export const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** String.prototype.isWellFormed (Node 20; not in the ES2023 lib the project compiles against). */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * The path to the first string (value or key) in `value` that is not well-formed UTF-16 (a lone
 * surrogate, which SQLite would store as bytes that read back as U+FFFD), or undefined. Recursive:
 * only called on values already known to be within MAX_JSON_DEPTH, and only when their text has
 * a surrogate escape (SURROGATE_ESCAPE).
 */
export function pathNotUnicode(value: unknown): (string | number)[] | undefined {
  if (typeof value === 'string') return wellFormed(value) ? undefined : [];
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = pathNotUnicode(value[i]);
      if (p) return [i, ...p];
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    if (!wellFormed(k)) return [k];
    const p = pathNotUnicode(v);
    if (p) return [k, ...p];
  }
  return undefined;
}
