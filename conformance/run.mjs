#!/usr/bin/env node
// Conformance runner: replays request -> answer vectors against any implementation of the
// whiteroom-store protocol given as a command, and compares the answers. Plain Node (>= 20), no
// build step, no dependency outside node:*; the format is described in conformance/README.md.
//
//   node conformance/run.mjs [options] [file.json | folder ...] -- <command...>
//
// `{dataDir}` in the command is replaced by a fresh empty temporary folder, one per vector (every
// vector runs in a new process on a new data directory, so vectors are independent).
//
//   --jobs N       vectors run at once (default 2)
//   --filter S     only vectors whose "<method> <name>" contains S
//   --fill         authoring: a vector with neither `result` nor `error` gets the answer it received
//                  written into its file, with what varies (times, generated ids, paths, sizes)
//                  replaced by markers; review the diff before committing it
//   --verbose      print the exchange of failed vectors
//
// Without files: every *.json in conformance/. Exit status 0 when every vector passed, 1 otherwise.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from './format.mjs';

const here = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
if (dash < 0 || dash === argv.length - 1) {
  console.error('usage: node conformance/run.mjs [--jobs N] [--filter S] [--fill] [--verbose] [files...] -- <command...>');
  process.exit(2);
}
const command = argv.slice(dash + 1);
const opts = { jobs: 2, filter: '', fill: false, verbose: false, files: [] };
for (let i = 0; i < dash; i++) {
  const a = argv[i];
  if (a === '--jobs') opts.jobs = Number(argv[++i]);
  else if (a === '--filter') opts.filter = argv[++i];
  else if (a === '--fill') opts.fill = true;
  else if (a === '--verbose') opts.verbose = true;
  else if (a.startsWith('--')) {
    console.error(`run.mjs: unknown option ${a}`);
    process.exit(2);
  } else opts.files.push(a);
}
if (opts.files.length === 0) opts.files.push(here);
const TIMEOUT_MS = Number(process.env.CONFORMANCE_TIMEOUT_MS ?? 30000);

/** Every vector file named (folders: their *.json), in order. */
function vectorFiles(paths) {
  const out = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).filter((f) => f.endsWith('.json')).sort()) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

/**
 * A file holds an array of vectors, or `{description?, vectors: [...]}`. A vector without `method`
 * takes it from the file's name (rpc-schema/examples/songs.get.json).
 */
function loadFile(file) {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const vectors = Array.isArray(doc) ? doc : doc.vectors;
  if (!Array.isArray(vectors)) throw new Error(`${file}: expected an array of vectors or {vectors: [...]}`);
  const implied = basename(file, '.json');
  return { doc, vectors: vectors.map((v) => ({ ...v, method: v.method ?? (v.raw === undefined && v.message === undefined ? implied : undefined) })) };
}

// ---------------------------------------------------------------------------
// Markers
// ---------------------------------------------------------------------------

/** `setup[0].result.items[2].id` -> the value in `ctx` (`{setup: [{params, result}], params}`). */
function lookup(ctx, path) {
  let v = ctx;
  for (const part of path.match(/[^.[\]]+/g) ?? []) {
    if (v === null || typeof v !== 'object' || !(part in v)) throw new Error(`$ref ${path}: nothing at "${part}"`);
    v = v[part];
  }
  return v;
}

const isMarker = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && ('$any' in v || '$ref' in v);

/** `params` with every `{$ref}` replaced by the value it names (`$any` has no place in params). */
function resolve(value, ctx) {
  if (Array.isArray(value)) return value.map((x) => resolve(x, ctx));
  if (value === null || typeof value !== 'object') return value;
  if ('$ref' in value) return lookup(ctx, value.$ref);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, ctx)]));
}

const ANY = {
  any: () => true,
  string: (v) => typeof v === 'string',
  id: (v) => typeof v === 'string' && v.length > 0,
  path: (v) => typeof v === 'string' && v.length > 0,
  timestamp: (v) => Number.isInteger(v) && v > 0,
  integer: (v) => Number.isInteger(v),
  number: (v) => typeof v === 'number',
  boolean: (v) => typeof v === 'boolean',
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  array: (v) => Array.isArray(v),
};

/**
 * Differences between `expected` (with markers) and `actual`, as `pointer: message` strings.
 * Objects must have the same keys, unless `expected` has `"$more": true` (keys beyond those listed
 * are then allowed); arrays the same length and order.
 */
function compare(expected, actual, ctx, at = '') {
  if (isMarker(expected)) {
    if ('$ref' in expected) {
      let want;
      try {
        want = lookup(ctx, expected.$ref);
      } catch (e) {
        return [`${at || '/'}: ${e.message}`];
      }
      return compare(want, actual, ctx, at);
    }
    const check = ANY[expected.$any];
    if (!check) return [`${at || '/'}: unknown marker $any "${expected.$any}"`];
    return check(actual) ? [] : [`${at || '/'}: expected any ${expected.$any}, got ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at || '/'}: expected an array, got ${JSON.stringify(actual)}`];
    if (expected.length !== actual.length) return [`${at || '/'}: expected ${expected.length} items, got ${actual.length}: ${JSON.stringify(actual)}`];
    return expected.flatMap((e, i) => compare(e, actual[i], ctx, `${at}/${i}`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return [`${at || '/'}: expected an object, got ${JSON.stringify(actual)}`];
    const out = [];
    for (const [k, e] of Object.entries(expected)) {
      if (k === '$more') continue;
      if (!(k in actual)) out.push(`${at}/${k}: missing`);
      else out.push(...compare(e, actual[k], ctx, `${at}/${k}`));
    }
    if (expected.$more !== true) for (const k of Object.keys(actual)) if (!(k in expected)) out.push(`${at}/${k}: not expected (${JSON.stringify(actual[k])})`);
    return out;
  }
  return Object.is(expected, actual) || expected === actual ? [] : [`${at || '/'}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}

// ---------------------------------------------------------------------------
// One vector: a fresh process on a fresh data directory
// ---------------------------------------------------------------------------

/** Spawns the implementation; `send(text)` writes one NDJSON line and resolves with the next answer. */
function startProcess(dataDir) {
  const [cmd, ...args] = command.map((a) => a.replaceAll('{dataDir}', dataDir));
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let buffer = '';
  let stderr = '';
  const waiting = [];
  const answers = [];
  let exit;
  const exited = new Promise((res) => child.on('exit', (code, signal) => res((exit = { code, signal }))));
  child.stdin.on('error', () => {});
  child.stderr.on('data', (c) => (stderr += c));
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        msg = { unparseable: line };
      }
      // Notifications (no id member) are not answers.
      if (!Array.isArray(msg) && msg.method !== undefined && !('id' in msg)) continue;
      if (waiting.length) waiting.shift()(msg);
      else answers.push(msg);
    }
  });
  const next = () =>
    answers.length
      ? Promise.resolve(answers.shift())
      : new Promise((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`no answer within ${TIMEOUT_MS} ms; stderr: ${stderr.slice(-500)}`)), TIMEOUT_MS);
          waiting.push((m) => (clearTimeout(timer), res(m)));
          exited.then((e) => setTimeout(() => rej(new Error(`process exited ${JSON.stringify(e)} before answering; stderr: ${stderr.slice(-500)}`)), 50));
        });
  return {
    send(text) {
      child.stdin.write(text + '\n');
      return next();
    },
    async close() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

async function runVector(v) {
  const dataDir = mkdtempSync(join(tmpdir(), 'conformance-'));
  const proc = startProcess(dataDir);
  const ctx = { setup: [], params: undefined, dataDir };
  const exchange = [];
  let nextId = 1;
  try {
    for (const [i, step] of (v.setup ?? []).entries()) {
      const params = resolve(step.params, ctx);
      const req = { jsonrpc: '2.0', id: nextId++, method: step.method, ...(params === undefined ? {} : { params }) };
      const answer = await proc.send(JSON.stringify(req));
      exchange.push(['setup', req, answer]);
      if (!answer || answer.error || !('result' in answer)) {
        return { ok: false, errors: [`setup[${i}] ${step.method} failed: ${JSON.stringify(answer?.error ?? answer)}`], exchange };
      }
      ctx.setup.push({ method: step.method, params, result: answer.result });
    }
    let text;
    if (v.raw !== undefined) text = v.raw;
    else if (v.message !== undefined) text = JSON.stringify(v.message);
    else {
      ctx.params = resolve(v.params, ctx);
      text = JSON.stringify({ jsonrpc: '2.0', id: nextId, method: v.method, ...(ctx.params === undefined ? {} : { params: ctx.params }) });
    }
    const answer = await proc.send(text);
    exchange.push(['call', text, answer]);
    const errors = [];
    if (v.answer !== undefined) {
      // The whole answer (a batch's array included), compared as is.
      errors.push(...compare(v.answer, answer, ctx, ''));
      return { ok: errors.length === 0, errors, exchange };
    }
    if (answer?.jsonrpc !== '2.0') errors.push(`jsonrpc: expected "2.0", got ${JSON.stringify(answer?.jsonrpc)}`);
    if ('id' in v) errors.push(...compare(v.id, answer?.id, ctx, '/id'));
    else if (v.raw === undefined && v.message === undefined && answer?.id !== nextId) errors.push(`id: expected ${nextId}, got ${JSON.stringify(answer?.id)}`);
    if (v.error !== undefined) {
      if (!answer?.error) errors.push(`expected error ${v.error.code}, got result ${JSON.stringify(answer?.result)}`);
      else {
        if (answer.error.code !== v.error.code) errors.push(`error.code: expected ${v.error.code}, got ${answer.error.code} (${answer.error.message})`);
        if (typeof answer.error.message !== 'string') errors.push('error.message: expected a string');
        if ('data' in v.error) errors.push(...compare(v.error.data, answer.error.data, ctx, '/error/data'));
      }
    } else if (v.result !== undefined) {
      if (answer?.error) errors.push(`expected a result, got error ${JSON.stringify(answer.error)}`);
      else errors.push(...compare(v.result, answer?.result, ctx, '/result'));
    } else if (opts.fill) {
      const filled = Array.isArray(answer)
        ? { answer: markVarying(answer, ctx, dataDir) }
        : answer.error
          ? { error: markVarying({ code: answer.error.code, ...('data' in answer.error ? { data: answer.error.data } : {}) }, ctx, dataDir) }
          : { result: markVarying(answer.result, ctx, dataDir) };
      return { ok: true, filled, exchange };
    } else errors.push('the vector has neither result nor error');
    return { ok: errors.length === 0, errors, exchange };
  } catch (e) {
    return { ok: false, errors: [e.message], exchange };
  } finally {
    await proc.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// --fill: an answer, with what varies replaced by markers
// ---------------------------------------------------------------------------

const EXAMPLE_DIR = '/Users/ada/Library/Application Support/WhiteRoom';
/** Where `value` occurs in the setup answers or params, as a `$ref` path (only non-trivial strings). */
function findRef(ctx, value) {
  const walk = (v, path) => {
    if (v === value) return path;
    if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const r = walk(x, Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`);
        if (r) return r;
      }
    }
    return undefined;
  };
  for (const [i, s] of ctx.setup.entries()) {
    const r = walk(s.result, `setup[${i}].result`);
    if (r) return r;
  }
  return undefined;
}
function markVarying(value, ctx, dataDir, key = '') {
  if (Array.isArray(value)) return value.map((x) => markVarying(x, ctx, dataDir, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, markVarying(v, ctx, dataDir, k)]));
  }
  if (typeof value === 'number' && Number.isInteger(value) && value > 1.5e12 && value < 4e12) return { $any: 'timestamp', example: value };
  if (typeof value === 'number' && /Bytes$|^bytes$|Ms$|Pages$|^pid$|pageCount|pageSize|uptime/i.test(key)) return { $any: 'integer', example: value };
  if (typeof value === 'string') {
    // The same value as an earlier answer's (a backup's path, a version's id): a $ref to it.
    if (value.length >= 8 && (value.includes(dataDir) || /^[0-9a-f]{8}-/i.test(value) || /\d{4}-\d{2}-\d{2}/.test(value))) {
      const ref = findRef(ctx, value);
      if (ref) return { $ref: ref, example: value.replaceAll(dataDir, EXAMPLE_DIR) };
    }
    if (value.includes(dataDir)) return { $any: 'path', example: value.replaceAll(dataDir, EXAMPLE_DIR) };
    if (/^Auto-Save /.test(value) || /^[0-9a-f]{64}$/.test(value) || /\d{4}-\d{2}-\d{2}_\d{6}/.test(value)) return { $any: 'string', example: value };
    if (/^(version|nodeVersion|sqliteVersion)$/.test(key) && /^\d+\.\d+\.\d+/.test(value)) return { $any: 'string', example: value };
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value) || /\d{4}-?\d{2}-?\d{2}T\d{2}/.test(value)) {
      const ref = findRef(ctx, value);
      return ref ? { $ref: ref, example: value } : { $any: 'id', example: value };
    }
  }
  return value;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const files = vectorFiles(opts.files).map((file) => ({ file, ...loadFile(file) }));
const work = [];
for (const f of files) {
  for (const [i, v] of f.vectors.entries()) {
    const label = `${v.method ?? '(raw)'} ${v.name ?? `#${i}`}`;
    if (opts.filter && !label.includes(opts.filter)) continue;
    work.push({ f, i, v, label: `${basename(f.file)}: ${label}` });
  }
}
const results = new Array(work.length);
let cursor = 0;
async function worker() {
  while (cursor < work.length) {
    const n = cursor++;
    results[n] = await runVector(work[n].v);
  }
}
const t0 = Date.now();
await Promise.all(Array.from({ length: Math.max(1, opts.jobs) }, worker));
let failed = 0;
console.log(`TAP version 13\n1..${work.length}`);
for (const [n, w] of work.entries()) {
  const r = results[n];
  if (r.ok) console.log(`ok ${n + 1} - ${w.label}${r.filled ? ' # filled' : ''}`);
  else {
    failed++;
    console.log(`not ok ${n + 1} - ${w.label}`);
    for (const e of r.errors) console.log(`  # ${e}`);
    if (opts.verbose) for (const [kind, sent, got] of r.exchange) console.log(`  # ${kind} >> ${typeof sent === 'string' ? sent : JSON.stringify(sent)}\n  #      << ${JSON.stringify(got)}`);
  }
}
if (opts.fill) {
  for (const f of files) {
    let changed = false;
    const raw = Array.isArray(f.doc) ? f.doc : f.doc.vectors;
    for (const [n, w] of work.entries()) {
      if (w.f !== f || !results[n].filled) continue;
      Object.assign(raw[w.i], results[n].filled);
      changed = true;
    }
    if (changed) writeFileSync(f.file, format(f.doc) + '\n');
  }
}
console.log(`# ${work.length - failed} passed, ${failed} failed, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(failed ? 1 : 0);
