/**
 * Small helpers for the instrument registry tests (instruments.*, voices.*, presets.*): calls whose
 * results are checked against their result schemas, expected errors, store.changed tracking, and
 * SQLite's own checks on a stopped data directory.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { resultValidator } from '../../src/methods/index.js';
import type { RpcResponse, StoreProcess } from './process.js';

export interface Change {
  entity: string;
  op: 'insert' | 'update' | 'delete';
  ids: string[];
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

/** Calls `method`, expects the error `code`; returns the error. */
export async function fails(p: StoreProcess, method: string, params: unknown, code: number): Promise<{ code: number; message: string; data?: any }> {
  const r = await p.request(method, params);
  expect(r.error, `${method} should fail with ${code}, answered ${JSON.stringify(r.result)}`).to.not.equal(undefined);
  expect(r.error!.code, `${method}: ${JSON.stringify(r.error)}`).to.equal(code);
  expect(r.error!.message).to.be.a('string').and.not.equal('');
  return r.error!;
}

/** Expects -32602 whose data.errors is [{path, message}] and names `path`; returns the errors. */
export async function invalid(p: StoreProcess, method: string, params: unknown, path: string): Promise<{ path: string; message: string }[]> {
  const e = await fails(p, method, params, -32602);
  expect(e.data, 'InvalidParams carries data').to.be.an('object');
  const errors = e.data.errors as { path: string; message: string }[];
  expect(errors).to.be.an('array').that.is.not.empty;
  for (const x of errors) {
    expect(x).to.have.all.keys('path', 'message');
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
  return { response, changes };
}

/** Changes in a comparable form: sorted by entity and op, ids sorted; one per entity and op. */
export function normalized(changes: Change[]): Change[] {
  const keys = changes.map((c) => `${c.entity}/${c.op}`);
  expect(new Set(keys).size, `one notification per entity and op: ${JSON.stringify(changes)}`).to.equal(keys.length);
  for (const c of changes) expect(c).to.have.all.keys('entity', 'op', 'ids');
  return changes
    .map((c) => ({ entity: c.entity, op: c.op, ids: [...c.ids].sort() }))
    .sort((a, b) => `${a.entity}/${a.op}`.localeCompare(`${b.entity}/${b.op}`));
}

/** The item without the fields the store adds (for update/save round-trips). */
export function content(stored: Record<string, any>): Record<string, any> {
  const { createdAt: _c, updatedAt: _u, revision: _r, ...rest } = stored;
  return rest;
}

/** Runs SQL through the sqlite3 command-line tool on a stopped data directory's data.db. */
export function sqlite3(dataDir: string, sql: string): string {
  return execFileSync('sqlite3', [join(dataDir, 'data.db'), sql], { encoding: 'utf8' }).trim();
}
