/**
 * The RFC 6902 patch from one JSON value to another (`songs.diff`, `performances.diff`), made
 * with the `rfc6902` library for objects and values, and with our own array diff.
 *
 * rfc6902's own array diff is a memoised recursive edit distance: O(n*m) time and memory, a
 * recursion n+m deep (5,000 elements overflow the stack), and it diffs a pair of elements twice
 * (once to test equality, once to emit), so nested arrays cost 2^depth. Ours gives the same
 * minimal patch (same algorithm, same ties) when the part of the arrays between their common
 * ends is small (n*m within DP_BUDGET, and the diff's allowance of tables not spent), computed
 * iteratively with a deep-equality test; otherwise it compares the middle position by position
 * and removes or adds the surplus: linear, and always a correct patch, though not always the
 * shortest.
 */
import { createPatch, type Operation, type Pointer } from 'rfc6902';
import { diffAny } from 'rfc6902/diff.js';

/**
 * Most cells of the edit-distance table between the differing middles of two arrays; above it
 * the middles are compared position by position. Measured on song sections all changed (2
 * cores, loaded): ~10 ms at this size, ~40 ms at 40,000 cells; elements of 60 keys
 * that differ only in the last reach DP_WORK first (~20 ms).
 */
export const DP_BUDGET = 10_000;
/** Most values the table's equality tests may visit before it gives up for position by position. */
export const DP_WORK = 100_000;
/**
 * What all the tables of one diff may take together (cells, values visited): a record of many
 * arrays each just within the budget (99 arrays of 99 arrays of 99 small objects, 12 MB) took
 * 14 s without it. ~150 ms of tables at most; the rest is compared position by position.
 */
export const DP_TOTAL_CELLS = 1_000_000;
export const DP_TOTAL_WORK = 1_000_000;

/** What the tables of one diff have left. */
interface Allowance {
  cells: number;
  work: number;
}

type Diff = (input: unknown, output: unknown, ptr: Pointer) => Operation[];
/** Deep equality, counting the values it visits (`same.visits`). */
type Same = ((a: unknown, b: unknown) => boolean) & { visits: number };

/**
 * Deep equality of JSON values (key order aside), remembering for each array the last one it was
 * found to differ from: the arrays of each level of a deep nest are compared with each other
 * once, not once per level above them (which is quadratic in the depth). Objects are not
 * remembered: the edit distance compares many pairs of them, and only arrays call this.
 */
function equality(): Same {
  const differs = new Map<object, object>();
  const same = ((a: unknown, b: unknown): boolean => {
    same.visits++;
    if (a === b) return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    let equal = true;
    if (Array.isArray(a)) {
      if (differs.get(a) === b) return false;
      if (!Array.isArray(b) || a.length !== b.length) equal = false;
      else for (let i = 0; equal && i < a.length; i++) equal = same(a[i], b[i]);
      if (!equal) differs.set(a, b);
    } else if (Array.isArray(b)) {
      equal = false;
    } else {
      const keys = Object.keys(a);
      if (keys.length !== Object.keys(b).length) equal = false;
      for (let i = 0; equal && i < keys.length; i++) {
        const k = keys[i]!;
        equal = Object.hasOwn(b, k) && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
      }
    }
    return equal;
  }) as Same;
  same.visits = 0;
  return same;
}

/** The patch that turns `from` into `to` when applied in order (rfc6902 applyPatch). */
export function diffJson(from: unknown, to: unknown, budget = DP_BUDGET): Operation[] {
  const same = equality();
  const left: Allowance = { cells: DP_TOTAL_CELLS, work: DP_TOTAL_WORK };
  const diff: Diff = (input, output, ptr) =>
    Array.isArray(input) && Array.isArray(output) ? diffArrays(input, output, ptr, diff, same, budget, left) : diffAny(input, output, ptr, diff);
  return createPatch(from, to, diff);
}

function diffArrays(a: unknown[], b: unknown[], ptr: Pointer, diff: Diff, same: Same, budget: number, left: Allowance): Operation[] {
  // The common ends: elements equal at the start and at the end are left alone.
  let start = 0;
  const shorter = Math.min(a.length, b.length);
  while (start < shorter && same(a[start], b[start])) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && same(a[endA - 1], b[endB - 1])) {
    endA--;
    endB--;
  }
  const n = endA - start;
  const m = endB - start;
  const atEnd = endA === a.length; // an add at the end of the middle is an add at the end of the array ("-")
  const ops: Operation[] = [];
  // `at` is an index in the middle as it is when the op applies.
  const addAt = (at: number, value: unknown, length: number): void => {
    ops.push({ op: 'add', path: ptr.add(atEnd && at >= length ? '-' : String(start + at)).toString(), value });
  };
  const removeAt = (at: number): void => {
    ops.push({ op: 'remove', path: ptr.add(String(start + at)).toString() });
  };
  const replaceAt = (at: number, x: unknown, y: unknown): void => {
    for (const op of diff(x, y, ptr.add(String(start + at)))) ops.push(op);
  };

  const cells = (n + 1) * (m + 1);
  let steps: Step[] | undefined;
  if (cells <= budget && cells <= left.cells && left.work > 0) {
    const visits = same.visits;
    steps = editSteps(a, b, start, n, m, same, Math.min(DP_WORK, left.work));
    left.cells -= cells;
    left.work -= same.visits - visits;
  }
  if (!steps) {
    // Position by position, then the surplus.
    const common = Math.min(n, m);
    for (let t = 0; t < common; t++) replaceAt(t, a[start + t], b[start + t]);
    for (let t = n - 1; t >= m; t--) removeAt(t); // from the end: cheap to apply when nothing follows
    for (let t = n; t < m; t++) addAt(t, b[start + t], t);
    return ops;
  }

  let padding = 0;
  for (let s = steps.length - 1; s >= 0; s--) {
    const [op, i, j] = steps[s]!;
    if (op === 0) {
      removeAt(i - 1 + padding);
      padding--;
    } else if (op === 1) {
      addAt(i + padding, b[start + j - 1], n + padding);
      padding++;
    } else {
      replaceAt(i - 1 + padding, a[start + i - 1], b[start + j - 1]);
    }
  }
  return ops;
}

/** An edit step: 0 remove a[i-1], 1 add b[j-1] after a[i-1], 2 replace a[i-1] by b[j-1]. */
type Step = [op: 0 | 1 | 2, i: number, j: number];

/**
 * rfc6902's edit distance between the middles a[start, start+n) and b[start, start+m) (add,
 * remove, or replace by its own diff: each costs 1), filled iteratively; ties prefer remove,
 * then add, then replace, as rfc6902 does. The steps are listed last first. Undefined when the
 * equality tests visit more than `work` values (big elements that differ late).
 */
function editSteps(a: unknown[], b: unknown[], start: number, n: number, m: number, same: Same, work: number): Step[] | undefined {
  const limit = same.visits + work;
  const w = m + 1;
  const cost = new Uint32Array((n + 1) * w);
  const equal = new Uint8Array((n + 1) * w);
  for (let j = 0; j <= m; j++) cost[j] = j;
  for (let i = 1; i <= n; i++) {
    cost[i * w] = i;
    for (let j = 1; j <= m; j++) {
      if (same.visits > limit) return undefined;
      const k = i * w + j;
      if (same(a[start + i - 1], b[start + j - 1])) {
        equal[k] = 1;
        cost[k] = cost[k - w - 1]!;
      } else {
        cost[k] = 1 + Math.min(cost[k - w]!, cost[k - 1]!, cost[k - w - 1]!);
      }
    }
  }
  // Walk back from (n, m).
  const steps: Step[] = [];
  for (let i = n, j = m; i > 0 || j > 0; ) {
    const k = i * w + j;
    if (i > 0 && j > 0 && equal[k]) {
      i--;
      j--;
      continue;
    }
    const c = cost[k]! - 1;
    if (i > 0 && cost[k - w] === c) steps.push([0, i--, j]);
    else if (j > 0 && cost[k - 1] === c) steps.push([1, i, j--]);
    else steps.push([2, i--, j--]);
  }
  return steps;
}
