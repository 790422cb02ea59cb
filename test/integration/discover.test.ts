/**
 * rpc.discover: the OpenRPC document the sidecar answers. It must be a valid OpenRPC document
 * (checked against the meta-schema of @open-rpc/meta-schema), describe exactly the methods of
 * rpc-schema/ as their files do, name only methods that have a handler, and docs/api.md must be
 * up to date with it.
 */
import { expect } from 'chai';
import { Ajv, type ValidateFunction } from 'ajv';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { OPENRPC_DOCUMENT } from '../../src/generated/openrpc.js';
import { resultValidator } from '../../src/methods/index.js';
import { ROOT, StoreProcess, type Framing } from '../helpers/process.js';

const require = createRequire(import.meta.url);

type Json = any;

const readJson = (path: string): Json => JSON.parse(readFileSync(path, 'utf8'));
const jsonFiles = (dir: string): string[] => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.json')).sort();

/** Method schema files by method name (file name without .json). */
const METHOD_FILES: Record<string, Json> = Object.fromEntries(
  jsonFiles('rpc-schema/methods').map((f) => [f.replace(/\.json$/, ''), readJson(join(ROOT, 'rpc-schema/methods', f))]),
);
const NOTIFICATION_FILES: Json[] = jsonFiles('rpc-schema/notifications').map((f) => readJson(join(ROOT, 'rpc-schema/notifications', f)));
const DEFINITION_FILES: Record<string, Json> = Object.fromEntries(
  jsonFiles('rpc-schema/definitions').map((f) => [f.replace(/\.json$/, ''), readJson(join(ROOT, 'rpc-schema/definitions', f))]),
);
const ERROR_TABLE: { code: number; name: string; message: string }[] = readJson(join(ROOT, 'rpc-schema/errors.json')).errors;
const PACKAGE_VERSION: string = readJson(join(ROOT, 'package.json')).version;

/** A schema file's `$ref: "X.json#…"` as the OpenRPC document spells it: `#/components/schemas/X…`. */
function componentRefs(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(componentRefs);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$ref' && typeof v === 'string') {
      const m = /^([A-Za-z0-9]+)\.json(#.*)?$/.exec(v);
      expect(m, `a schema file refers to ${v}`).to.not.equal(null);
      out[k] = `#/components/schemas/${m![1]}${(m![2] ?? '').replace(/^#/, '')}`;
    } else out[k] = componentRefs(v);
  }
  return out;
}

/** The content descriptors a params schema (inline, or a $ref to a definition) stands for. */
function expectedParams(params: Json): Json[] {
  const resolved = params.$ref ? DEFINITION_FILES[/^([A-Za-z0-9]+)\.json$/.exec(params.$ref)![1]!] : params;
  expect(resolved, `params ${JSON.stringify(params)}`).to.be.an('object');
  const required = new Set<string>(resolved.required ?? []);
  return Object.entries(resolved.properties ?? {}).map(([name, schema]: [string, Json]) => ({
    name,
    required: required.has(name),
    ...(schema.description ? { description: schema.description } : {}),
    schema: componentRefs(schema),
  }));
}

/**
 * The OpenRPC meta-schema, compiled. It is draft-07 and refers to the JSON Schema meta-schema of
 * json-schema.tools (https://meta.json-schema.tools) for every schema in the document; that
 * package is not installed, so draft-07's own meta-schema (bundled with ajv) stands in for it.
 */
function openRpcValidator(): ValidateFunction {
  const pkg = require('@open-rpc/meta-schema') as { openrpcDocument?: Json; default?: Json };
  const meta = pkg.openrpcDocument ?? pkg.default;
  expect(meta, 'the OpenRPC meta-schema').to.be.an('object');
  const addFormats = require('ajv-formats') as (ajv: Ajv) => Ajv;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const JSON_SCHEMA_TOOLS = 'https://meta.json-schema.tools/';
  ajv.addSchema({
    $id: JSON_SCHEMA_TOOLS,
    anyOf: [{ $ref: 'http://json-schema.org/draft-07/schema#' }],
    definitions: { JSONSchemaObject: { properties: { $ref: { type: 'string', format: 'uri-reference' } } } },
  });
  // The meta-schema spells the reference both with and without the trailing slash.
  ajv.addSchema({ $ref: JSON_SCHEMA_TOOLS }, JSON_SCHEMA_TOOLS.replace(/\/$/, ''));
  const { $schema: _ignored, ...schema } = meta;
  return ajv.compile(schema);
}

/** Every `$ref` string anywhere in `value`, with where it was found. */
function refsIn(value: Json, at = ''): { at: string; ref: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => refsIn(v, `${at}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) =>
    k === '$ref' && typeof v === 'string' ? [{ at, ref: v }] : refsIn(v, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`),
  );
}

/** Resolves a local JSON pointer reference (`#/a/b`) in `doc`; undefined when it points nowhere. */
function resolvePointer(doc: Json, ref: string): Json {
  if (!ref.startsWith('#')) return undefined;
  let cur = doc;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object' || !(key in cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

async function discover(p: StoreProcess, params?: unknown): Promise<Json> {
  const r = await p.request('rpc.discover', params);
  expect(r.error, JSON.stringify(r.error)).to.equal(undefined);
  const validate = resultValidator('rpc.discover');
  expect(validate(r.result), JSON.stringify(validate.errors)).to.equal(true);
  return r.result;
}

describe('rpc.discover', function () {
  let p: StoreProcess;
  let doc: Json;

  before(async () => {
    p = await StoreProcess.start();
    doc = await discover(p);
  });
  after(async () => p?.cleanup());

  it('answers a document that passes the OpenRPC meta-schema', () => {
    const validate = openRpcValidator();
    expect(validate(doc), `OpenRPC meta-schema errors: ${JSON.stringify(validate.errors, null, 2)}`).to.equal(true);
    expect(doc.openrpc).to.match(/^1\.2\.\d+$/);
  });

  it('the meta-schema check is not vacuous: it refuses broken documents', () => {
    const validate = openRpcValidator();
    const clone = (): Json => JSON.parse(JSON.stringify(doc));
    const noParams = clone();
    delete noParams.methods[0].params;
    const badVersion = clone();
    badVersion.openrpc = '9.9.9';
    const badSchema = clone();
    badSchema.methods[1].result.schema = { type: 5 };
    const unknownTop = clone();
    unknownTop.bogus = true;
    for (const broken of [noParams, badVersion, badSchema, unknownTop]) expect(validate(broken)).to.equal(false);
  });

  it('answers the same document with params omitted or empty, and refuses unknown params', async () => {
    expect(await discover(p, {})).to.deep.equal(doc);
    const r = await p.request('rpc.discover', { verbose: true });
    expect(r.error?.code).to.equal(-32602);
    expect(r.error?.data?.errors?.[0]?.path).to.equal('/verbose');
  });

  it('answers the same document over Content-Length framing', async () => {
    const q = await StoreProcess.start({ framing: 'header' as Framing });
    try {
      expect(await discover(q)).to.deep.equal(doc);
    } finally {
      await q.cleanup();
    }
  });

  it('names this package and its version', () => {
    expect(doc.info.title).to.equal('whiteroom-store');
    expect(doc.info.version).to.equal(PACKAGE_VERSION);
  });

  it('lists exactly the methods of rpc-schema/methods, each once, named as their files', () => {
    const names: string[] = doc.methods.map((m: Json) => m.name);
    expect(new Set(names).size, 'method names are unique').to.equal(names.length);
    expect([...names].sort()).to.deep.equal(Object.keys(METHOD_FILES).sort());
    for (const [file, m] of Object.entries(METHOD_FILES)) expect(m.name, `rpc-schema/methods/${file}.json`).to.equal(file);
  });

  it('includes every songs verb of the contract and the discovery method', () => {
    const names = new Set(doc.methods.map((m: Json) => m.name));
    for (const verb of ['create', 'get', 'update', 'save', 'delete', 'list', 'count', 'saveMany', 'deleteMany', 'search', 'setFavorite', 'markPlayed']) {
      expect(names.has(`songs.${verb}`), `songs.${verb}`).to.equal(true);
    }
    for (const m of ['rpc.discover', 'system.info', 'system.ping', 'system.shutdown']) expect(names.has(m), m).to.equal(true);
  });

  it('describes each method as its schema file does: summary, params, result and errors', () => {
    const messages = new Map(ERROR_TABLE.map((e) => [e.code, e.message]));
    for (const m of doc.methods as Json[]) {
      const file = METHOD_FILES[m.name];
      expect(m.summary, m.name).to.equal(file.summary);
      expect(m.description, m.name).to.equal(file.description);
      expect(m.paramStructure, m.name).to.equal('by-name');
      expect(m.params, `${m.name} params`).to.deep.equal(expectedParams(file.params));
      expect(m.result, `${m.name} result`).to.deep.equal({ name: 'result', schema: componentRefs(file.result) });
      // A method that writes may also answer ReadOnly (-32013): refused when the database is open read-only.
      const readOnly = file['x-read-only'] === true;
      expect(m['x-read-only'], `${m.name} x-read-only`).to.equal(readOnly ? true : undefined);
      const codes = [...new Set([...(file.errors ?? []), ...(readOnly ? [] : [-32013])])];
      expect(m.errors, `${m.name} errors`).to.deep.equal(codes.map((code: number) => ({ code, message: messages.get(code) })));
      for (const e of m.errors) expect(e.message, `${m.name}: error ${e.code} is in the error table`).to.be.a('string');
    }
  });

  it('carries every shared definition as a component schema', () => {
    const expected = Object.fromEntries(Object.entries(DEFINITION_FILES).map(([n, d]) => [n, componentRefs(d)]));
    expect(doc.components.schemas).to.deep.equal(expected);
  });

  it('every $ref in the document resolves inside it', () => {
    const refs = refsIn(doc);
    expect(refs).to.not.be.empty;
    for (const { at, ref } of refs) {
      expect(ref, `$ref at ${at}`).to.match(/^#\/components\/schemas\//);
      expect(resolvePointer(doc, ref), `$ref ${ref} at ${at}`).to.not.equal(undefined);
    }
  });

  it('lists the server-to-host notifications of rpc-schema/notifications', () => {
    const notes = doc['x-notifications'] as Json[];
    expect(notes.map((n) => n.name).sort()).to.deep.equal(NOTIFICATION_FILES.map((n) => n.name).sort());
    for (const n of notes) {
      const file = NOTIFICATION_FILES.find((f) => f.name === n.name);
      expect(n.summary).to.equal(file.summary);
      expect(n.params).to.deep.equal(expectedParams(file.params));
    }
    expect(notes.map((n) => n.name)).to.include('store.changed');
  });

  it('carries the contract error table', () => {
    expect(doc['x-errors']).to.deep.equal(ERROR_TABLE);
    const codes = ERROR_TABLE.map((e) => e.code);
    for (const code of [-32700, -32600, -32601, -32602, -32603, -32001, -32002, -32003, -32004, -32010, -32011, -32012, -32020, -32021, -32030, -32800]) {
      expect(codes, `error ${code}`).to.include(code);
    }
  });
});

describe('rpc.discover: every method it lists has a handler', function () {
  it('answers every listed method with something other than MethodNotFound or InternalError', async () => {
    const p = await StoreProcess.start();
    try {
      const doc = await discover(p);
      const names: string[] = doc.methods.map((m: Json) => m.name);
      // An unlisted method is MethodNotFound: the probe below can tell the difference.
      const unknown = await p.request('songs.noSuchVerb', {});
      expect(unknown.error?.code).to.equal(-32601);
      expect(unknown.error?.data).to.deep.equal({ method: 'songs.noSuchVerb' });
      // Empty params: methods with required params answer InvalidParams, the others run.
      // system.shutdown goes last, since it ends the process.
      for (const name of names.filter((n) => n !== 'system.shutdown')) {
        const r = await p.request(name, {});
        if (r.error) {
          expect(r.error.code, `${name}: ${JSON.stringify(r.error)}`).to.not.be.oneOf([-32601, -32603]);
        } else {
          const validate = resultValidator(name);
          expect(validate(r.result), `${name} result: ${JSON.stringify(validate.errors)}`).to.equal(true);
        }
      }
      if (names.includes('system.shutdown')) {
        expect(await p.call('system.shutdown', {})).to.deep.equal({ ok: true });
        expect(await p.exited).to.deep.equal({ code: 0, signal: null });
      }
    } finally {
      await p.cleanup();
    }
  });
});

/** Runs `node scripts/gen.mjs --check` in `root`: its status and what it printed. */
function genCheck(root: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'gen.mjs'), '--check'], { cwd: root, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('docs/api.md is up to date with rpc-schema/', function () {
  const api = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');

  it('is exactly what the generator writes (gen.mjs --check, which rewrites nothing)', function () {
    this.timeout(60000);
    const before = api;
    const { status, output } = genCheck(ROOT);
    expect(status, output).to.equal(0);
    expect(readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8'), 'the check leaves the file as it was').to.equal(before);
  });

  it('the check can fail: a stale docs/api.md is named and left as it was', function () {
    this.timeout(60000);
    // A copy of what the generator reads and writes, with node_modules linked: up to date as
    // copied, then one line of the API reference changed.
    const copy = mkdtempSync(join(tmpdir(), 'wr-gen-check-'));
    try {
      const cp = spawnSync('cp', ['-r', '--parents', 'scripts', 'rpc-schema', 'sql', 'docs', 'conformance', 'package.json', 'src/generated', copy], { cwd: ROOT });
      expect(cp.status, String(cp.stderr)).to.equal(0);
      spawnSync('ln', ['-s', join(ROOT, 'node_modules'), join(copy, 'node_modules')]);
      expect(genCheck(copy).status, 'the copy as made is up to date').to.equal(0);
      const stale = api.replace('### songs.get\n', '### songs.get (edited by hand)\n');
      expect(stale).to.not.equal(api);
      writeFileSync(join(copy, 'docs', 'api.md'), stale);
      const { status, output } = genCheck(copy);
      expect(status, output).to.equal(1);
      expect(output).to.include('docs/api.md');
      expect(readFileSync(join(copy, 'docs', 'api.md'), 'utf8')).to.equal(stale);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('names the package version and the OpenRPC version the generator writes', () => {
    expect(api).to.include(`Version ${PACKAGE_VERSION}.`);
    expect(api).to.include(`(OpenRPC ${OPENRPC_DOCUMENT.openrpc})`);
  });

  it('documents every method with its summary and description', () => {
    for (const [name, m] of Object.entries(METHOD_FILES)) {
      expect(api, name).to.include(`### ${name}\n`);
      expect(api, `${name} in the method list`).to.include(`[\`${name}\`]`);
      expect(api, `${name} summary`).to.include(m.summary);
      if (m.description) expect(api, `${name} description`).to.include(m.description);
    }
    const documented = [...api.matchAll(/^- \[`([^`]+)`\]/gm)].map((x) => x[1]);
    expect(documented.sort(), 'the method list names no method that is gone').to.deep.equal(Object.keys(METHOD_FILES).sort());
  });

  it('documents every param and result schema as the files state them', () => {
    for (const [name, m] of Object.entries(METHOD_FILES)) {
      const section = api.slice(api.indexOf(`### ${name}\n`));
      const end = section.indexOf('\n### ', 1);
      const text = end === -1 ? section : section.slice(0, end);
      for (const param of expectedParams(m.params)) {
        expect(text, `${name} param ${param.name}`).to.include(
          `| \`${param.name}\` | ${param.required ? 'yes' : 'no'} | \`${JSON.stringify(param.schema).replace(/\|/g, '\\|')}\` |`,
        );
      }
      expect(text, `${name} result`).to.include(JSON.stringify(componentRefs(m.result), null, 2));
      for (const code of m.errors ?? []) expect(text, `${name} error ${code}`).to.include(`\`${code}\``);
    }
  });

  it('lists every error code of the contract with its name', () => {
    for (const e of ERROR_TABLE) expect(api, `error ${e.code}`).to.match(new RegExp(`^\\| ${e.code} \\| ${e.name} \\|`, 'm'));
  });

  it('documents every notification and every shared definition', () => {
    for (const n of NOTIFICATION_FILES) expect(api, n.name).to.include(`### ${n.name}\n\n${n.summary}`);
    for (const [name, d] of Object.entries(DEFINITION_FILES)) {
      expect(api, `definition ${name}`).to.include(`### ${name}\n\n${d.description ?? ''}\n\n\`\`\`json\n${JSON.stringify(componentRefs(d), null, 2)}\n\`\`\``);
    }
  });
});
