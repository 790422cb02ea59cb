/**
 * Integration tests through the typed client (src/client/), as a host uses the sidecar: the real
 * process (dist/src/main.js, or WHITEROOM_STORE_BIN), typed calls, typed errors. Every result is
 * checked against its method's result schema as it arrives (onAnswer), and every error answer
 * against the contract (test/helpers/contract.ts) by `rejects`. For raw protocol (framing abuse,
 * batches, bytes) use StoreProcess (test/helpers/process.ts).
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { WhiteroomClient, WhiteroomError, type Framing, type SpawnOptions } from '../../src/client/index.js';
import { resultValidator } from '../../src/methods/index.js';
import { contractProblems } from './contract.js';
import { sidecarCommand, tempDir } from './process.js';
import type { Change } from './rpc.js';

/** What arrived, in order: notifications and answers (by method). */
export type Arrival = { kind: 'notification'; method: string; params: any } | { kind: 'answer'; method: string; id: number; error?: number };

export interface Launched {
  readonly dataDir: string;
  readonly ownsDir: boolean;
  /** Every notification and answer, in arrival order. */
  readonly log: Arrival[];
}

const LAUNCHED = new WeakMap<WhiteroomClient, Launched>();

/** The data directory and arrival log of a client made by `spawnClient`. */
export function launched(c: WhiteroomClient): Launched {
  const l = LAUNCHED.get(c);
  if (!l) throw new Error('not a client made by spawnClient');
  return l;
}

export interface ClientStartOptions {
  /** Data directory; a fresh temporary one when omitted (removed by `cleanupClient`). */
  dataDir?: string;
  framing?: Framing;
  /** Extra command-line arguments (after the defaults: --log-level warn --auto-backup-hours 0). */
  args?: string[];
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Check each result against the method's result schema (default true). */
  checkResults?: boolean;
  parse?: SpawnOptions['parse'];
}

/** Spawns the sidecar through the client, as StoreProcess.start does (same defaults). */
export async function spawnClient(options: ClientStartOptions = {}): Promise<WhiteroomClient> {
  const dataDir = options.dataDir ?? tempDir();
  const log: Arrival[] = [];
  const [command, lead] = sidecarCommand();
  const check = options.checkResults !== false;
  let client: WhiteroomClient;
  try {
    client = await WhiteroomClient.spawn({
      command,
      args: [...lead, '--log-level', 'warn', '--auto-backup-hours', '0', ...(options.args ?? [])],
      dataDir,
      env: { ...process.env, ...options.env },
      framing: options.framing ?? 'ndjson',
      ...(options.parse ? { parse: options.parse } : {}),
      onAnswer: (a) => {
        log.push({ kind: 'answer', method: a.method, id: a.id, ...(a.error ? { error: a.error.code } : {}) });
        if (check && a.error === undefined && a.text === undefined) {
          const validate = resultValidator(a.method);
          if (!validate(a.result)) {
            throw new Error(`${a.method} result fails its schema: ${JSON.stringify(validate.errors, null, 2)}\nresult: ${JSON.stringify(a.result).slice(0, 2000)}`);
          }
        }
      },
    });
  } catch (err) {
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  client.on('notification', ({ method, params }) => log.push({ kind: 'notification', method, params }));
  LAUNCHED.set(client, { dataDir, ownsDir: !options.dataDir, log });
  return client;
}

/** Kills the process if it still runs and removes a data directory spawnClient made. */
export async function cleanupClient(c: WhiteroomClient): Promise<void> {
  if (c.process && c.process.exitCode === null && c.process.signalCode === null) {
    c.process.kill('SIGKILL');
    await c.close({ timeoutMs: 5000 }).catch(() => undefined);
  }
  const l = LAUNCHED.get(c);
  if (l?.ownsDir) rmSync(l.dataDir, { recursive: true, force: true });
}

/** Clients and directories made by the current test; `cleanupAll` in afterEach. */
export class Clients {
  readonly running: WhiteroomClient[] = [];
  readonly dirs: string[] = [];

  async launch(options: ClientStartOptions = {}): Promise<WhiteroomClient> {
    const c = await spawnClient(options);
    this.running.push(c);
    return c;
  }

  ownDir(prefix = 'wr-it-'): string {
    const d = tempDir(prefix);
    this.dirs.push(d);
    return d;
  }

  async cleanupAll(): Promise<void> {
    for (const c of this.running.splice(0)) await cleanupClient(c);
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

/** Notifications of `method` received so far (params). */
export function notifications(c: WhiteroomClient, method = 'store.changed'): any[] {
  return launched(c)
    .log.filter((a) => a.kind === 'notification' && a.method === method)
    .map((a) => (a as { params: unknown }).params);
}

/**
 * Expects `call` to reject with an error answer of `code` that keeps the contract: a code the
 * method declares, `data` as the error table says. Returns the error.
 */
export async function rejects(call: Promise<unknown>, code: number): Promise<WhiteroomError<any>> {
  let result: unknown;
  try {
    result = await call;
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(WhiteroomError);
    const e = err as WhiteroomError<any>;
    expect(e.code, `${e.method}: ${JSON.stringify(e)}`).to.equal(code);
    expect(e.message).to.be.a('string').and.not.equal('');
    expect(contractProblems(e.method, e.toJSON()), `${e.method} answered ${JSON.stringify(e)}`).to.deep.equal([]);
    return e;
  }
  expect.fail(`should fail with ${code}, answered ${JSON.stringify(result)?.slice(0, 500)}`);
}

/** Expects -32602 whose data.errors is [{path, message}] and names `path`. */
export async function invalid(call: Promise<unknown>, path: string): Promise<{ path: string; message: string }[]> {
  const e = await rejects(call, -32602);
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

/**
 * Runs one call (the only one in flight) and collects the store.changed notifications it caused,
 * checking that all of them arrived before its answer. Answers its result (undefined when it
 * failed) or its error.
 */
export async function tracked<T>(c: WhiteroomClient, run: () => Promise<T>): Promise<{ result: T; error?: WhiteroomError<any>; changes: Change[] }> {
  const log = launched(c).log;
  const mark = log.length;
  let result: T | undefined;
  let error: WhiteroomError<any> | undefined;
  try {
    result = await run();
  } catch (err) {
    if (!(err instanceof WhiteroomError)) throw err;
    error = err;
  }
  await c.system.ping();
  const after = log.slice(mark);
  const at = after.findIndex((a) => a.kind === 'answer');
  expect(at).to.be.at.least(0);
  const isChange = (a: Arrival): boolean => a.kind === 'notification' && a.method === 'store.changed';
  const changes = after.filter(isChange).map((a) => (a as { params: Change }).params);
  const early = after.slice(0, at).filter(isChange).map((a) => (a as { params: Change }).params);
  expect(early, `store.changed of ${(after[at] as { method: string }).method} must arrive before its answer`).to.deep.equal(changes);
  return { result: result as T, ...(error ? { error } : {}), changes };
}

/** Every item of a keyset walk (a method answering {items, nextCursor?}), page by page. */
export async function walk<I>(page: (cursor: string | undefined) => Promise<{ items: I[]; nextCursor?: string }>, maxPages = 1000): Promise<{ items: I[]; pages: number }> {
  const items: I[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const p = await page(cursor);
    pages++;
    items.push(...p.items);
    if (p.nextCursor === undefined) {
      expect(p).to.not.have.property('nextCursor');
      return { items, pages };
    }
    cursor = p.nextCursor;
    expect(pages).to.be.below(maxPages);
  }
}

/** Every item of a keyset walk of `method` (any method answering {items, nextCursor?}) from `params`. */
export function listAll(c: WhiteroomClient, method: string, params: Record<string, unknown>): Promise<{ items: any[]; pages: number }> {
  return walk((cursor) => c.callUntyped(method, { ...params, ...(cursor ? { cursor } : {}) }) as Promise<{ items: any[]; nextCursor?: string }>);
}

/** A list the schema requires non-empty (`minItems: 1`, a tuple type), as the test knows it is. */
export const nonEmpty = <T>(xs: T[]): [T, ...T[]] => xs as [T, ...T[]];

/** Closes the client (stdin ends); expects exit 0. */
export async function stopClient(c: WhiteroomClient): Promise<void> {
  const exit = await c.close();
  expect(exit, `exit; stderr: ${c.stderr}`).to.deep.equal({ code: 0, signal: null });
}
