/**
 * JSON values compared as values, not as texts: `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same
 * state (a Swift dictionary encodes its keys in no fixed order), `1.0` and `1` the same number.
 *
 * Recursive: every JSON value the sidecar holds is at most MAX_JSON_DEPTH (1,000) levels deep
 * (src/json-limits.ts enforces it where the bytes are read), far from the stack's limit.
 */

/** The JSON text of `value` with every object's keys in code-unit order; `undefined` members are dropped as JSON.stringify drops them. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const o = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(o).sort()) {
    if (o[k] === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(o[k])}`);
  }
  return `{${parts.join(',')}}`;
}

/** Whether two JSON values are the same value, whatever the order of their objects' keys. */
export const sameJson = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);
