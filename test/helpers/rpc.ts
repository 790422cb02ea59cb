/**
 * Small RPC assertion helpers for integration tests (copied from songs.test.ts): result-schema
 * checking, error checking, store.changed tracking, process bookkeeping.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { resultValidator } from '../../src/methods/index.js';
import { StoreProcess, tempDir, type RpcResponse, type StartOptions } from './process.js';
import { contractProblems } from './contract.js';

export interface Change {
  entity: string;
  op: 'insert' | 'update' | 'delete';
  ids: string[];
  revisions?: Record<string, number>;
}

/** Processes and directories made by the current test; `cleanupAll` in afterEach. */
export class Procs {
  readonly running: StoreProcess[] = [];
  readonly dirs: string[] = [];

  async launch(options: StartOptions = {}): Promise<StoreProcess> {
    const p = await StoreProcess.start(options);
    this.running.push(p);
    return p;
  }

  ownDir(prefix = 'wr-it-'): string {
    const d = tempDir(prefix);
    this.dirs.push(d);
    return d;
  }

  async cleanupAll(): Promise<void> {
    for (const p of this.running.splice(0)) await p.cleanup();
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

/** Calls `method`, expects a result, and checks it against the method's result schema. */
export async function ok(p: StoreProcess, method: string, params?: unknown): Promise<any> {
  const r = await p.request(method, params);
  expect(r.error, `${method} answered an error: ${JSON.stringify(r.error)}`).to.equal(undefined);
  const validate = resultValidator(method);
  const valid = validate(r.result);
  expect(valid, `${method} result fails its schema: ${JSON.stringify(validate.errors, null, 2)}\nresult: ${JSON.stringify(r.result)}`).to.equal(true);
  return r.result;
}

/**
 * Calls `method`, expects the error `code`; returns the error. The error must also keep the
 * contract (test/helpers/contract.ts): a code the method's schema declares, `data` as the table says.
 */
export async function fails(p: StoreProcess, method: string, params: unknown, code: number): Promise<{ code: number; message: string; data?: any }> {
  const r = await p.request(method, params);
  expect(r.error, `${method} should fail with ${code}, answered ${JSON.stringify(r.result)}`).to.not.equal(undefined);
  expect(r.error!.code, `${method}: ${JSON.stringify(r.error)}`).to.equal(code);
  expect(r.error!.message).to.be.a('string').and.not.equal('');
  expect(contractProblems(method, r.error!), `${method} answered ${JSON.stringify(r.error)}`).to.deep.equal([]);
  return r.error!;
}

/** Expects -32602 whose data.errors is [{path, message}] and names `path`. */
export async function invalid(p: StoreProcess, method: string, params: unknown, path: string): Promise<{ path: string; message: string }[]> {
  const e = await fails(p, method, params, -32602);
  expect(e.data, 'InvalidParams carries data').to.be.an('object');
  const errors = e.data.errors as { path: string; message: string }[];
  expect(errors).to.be.an('array').that.is.not.empty;
  for (const x of errors) {
    expect(x).to.have.all.keys('path', 'message');
    expect(x.path).to.be.a('string');
    expect(x.message).to.be.a('string').and.not.equal('');
  }
  expect(errors.map((x) => x.path), `errors ${JSON.stringify(errors)} should name ${path}`).to.include(path);
  return errors;
}

let seq = 0;

/** Sends a request and collects the store.changed notifications it caused (all before its response). */
export async function tracked(p: StoreProcess, method: string, params?: unknown): Promise<{ response: RpcResponse; changes: Change[] }> {
  const id = `tracked-${++seq}`;
  const mark = p.received.length;
  const response = await p.request(method, params, id);
  await p.call('system.ping');
  const after = p.received.slice(mark) as any[];
  const at = after.findIndex((m) => m && !Array.isArray(m) && m.id === id);
  expect(at).to.be.at.least(0);
  const isChange = (m: any): boolean => m && m.method === 'store.changed';
  const changes = after.filter(isChange).map((m) => m.params as Change);
  const early = after.slice(0, at).filter(isChange).map((m) => m.params as Change);
  expect(early, `store.changed of ${method} must arrive before its response`).to.deep.equal(changes);
  if (!response.error) {
    const validate = resultValidator(method);
    expect(validate(response.result), `${method} result fails its schema: ${JSON.stringify(validate.errors)}`).to.equal(true);
  }
  return { response, changes };
}

/**
 * Changes sorted by entity/op with sorted ids; one per entity and op. `revisions`, when present,
 * must name only ids of its change, each with a revision; it is left out of the answer.
 */
export function normalized(changes: Change[]): Change[] {
  const keys = changes.map((c) => `${c.entity}/${c.op}`);
  expect(new Set(keys).size, `one notification per entity and op: ${JSON.stringify(changes)}`).to.equal(keys.length);
  for (const c of changes) {
    expect(c).to.include.all.keys('entity', 'op', 'ids');
    for (const k of Object.keys(c)) expect(['entity', 'op', 'ids', 'revisions'], `store.changed key ${k}`).to.include(k);
    for (const [id, rev] of Object.entries(c.revisions ?? {})) {
      expect(c.ids, `revisions names ${id}`).to.include(id);
      expect(Number.isInteger(rev) && rev >= 1, `revision of ${id}`).to.equal(true);
    }
  }
  return changes
    .map((c) => ({ entity: c.entity, op: c.op, ids: [...c.ids].sort() }))
    .sort((a, b) => `${a.entity}/${a.op}`.localeCompare(`${b.entity}/${b.op}`));
}

/** Every item of a keyset walk (any method answering {items, nextCursor?}), page by page, each page checked against the result schema. */
export async function listAll(p: StoreProcess, method: string, params: Record<string, unknown>): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await ok(p, method, { ...params, ...(cursor ? { cursor } : {}) });
    pages++;
    items.push(...page.items);
    if (page.nextCursor === undefined) return { items, pages };
    cursor = page.nextCursor;
    expect(pages).to.be.below(1000);
  }
}

/** Stops the sidecar by closing stdin; expects exit 0. */
export async function stop(p: StoreProcess): Promise<void> {
  const exit = await p.close();
  expect(exit, `exit; stderr: ${p.stderr}`).to.deep.equal({ code: 0, signal: null });
}
