/**
 * Background work and the text of requests: idle checkpoints (fake timers, a real database),
 * Server.schedule (jobs take their turn in the request queue), and the request text the transport
 * keeps for handlers (ctx.text: what autosave.stage stores instead of serialising again).
 */
import { expect } from 'chai';
import FakeTimers from '@sinonjs/fake-timers';
import { closeSync, copyFileSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { IdleCheckpoint } from '../../src/services/idle-checkpoint.js';
import { doctor } from '../../src/store/health.js';
import { Dispatcher, type MethodEntry, type RequestContext } from '../../src/rpc/dispatcher.js';
import { Server } from '../../src/rpc/server.js';
import { NdjsonMessageReader, HeaderMessageReader, StreamMessageWriter } from '../../src/rpc/transport.js';
import { textOf } from '../../src/json-text.js';
import { WAL_AUTOCHECKPOINT_PAGES } from '../../src/store/database.js';
import { openTempStore, type TempStore } from '../helpers/unit-store.js';

const walBytes = (t: TempStore): number => statSync(`${t.dbPath}-wal`).size;

describe('IdleCheckpoint', () => {
  let t: TempStore;
  let clock: FakeTimers.Clock;
  let checkpoint: IdleCheckpoint;
  let jobs: (() => void)[];
  beforeEach(async () => {
    t = await openTempStore();
    clock = FakeTimers.createClock(0);
    jobs = [];
    checkpoint = new IdleCheckpoint({
      store: t.store,
      delayMs: 1000,
      timers: { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (h) => clock.clearTimeout(h as never) },
    });
    checkpoint.setRunner((job) => jobs.push(job));
    t.store.db.exec('CREATE TABLE bulk (x TEXT NOT NULL) STRICT');
  });
  afterEach(() => {
    checkpoint.close();
    t.cleanup();
  });

  const write = (): void => {
    t.store.write(() => t.store.db.prepare('INSERT INTO bulk VALUES (?)').run('x'.repeat(64 * 1024)));
  };
  const runJobs = (): void => {
    for (const job of jobs.splice(0)) job();
  };

  it('the connection checkpoints automatically only after WAL_AUTOCHECKPOINT_PAGES pages', () => {
    expect(t.store.db.pragma('wal_autocheckpoint', { simple: true })).to.equal(WAL_AUTOCHECKPOINT_PAGES);
  });

  it('runs one PASSIVE checkpoint, as a job for the runner, once no write has committed for delayMs', () => {
    for (let i = 0; i < 10; i++) {
      write();
      clock.tick(500); // writes keep coming faster than the delay: no checkpoint yet
    }
    expect(jobs).to.have.length(0);
    clock.tick(500);
    expect(jobs).to.have.length(1);
    expect(checkpoint.count).to.equal(0); // nothing touches the database until the runner runs the job
    runJobs();
    expect(checkpoint.count).to.equal(1);
    // Every frame is in the database now: the next write starts the WAL over from its beginning.
    const before = walBytes(t);
    write();
    expect(walBytes(t)).to.be.at.most(before);
    const [busy, log, done] = Object.values((t.store.db.pragma('wal_checkpoint(PASSIVE)') as object[])[0]!) as number[];
    expect([busy, log === done]).to.deep.equal([0, true]);
  });

  it('does nothing after close, nor inside a transaction', () => {
    write();
    clock.tick(1000);
    t.store.db.exec('BEGIN');
    runJobs();
    t.store.db.exec('COMMIT');
    expect(checkpoint.count).to.equal(0);
    write();
    checkpoint.close();
    clock.tick(5000);
    runJobs();
    expect(jobs).to.have.length(0);
    expect(checkpoint.count).to.equal(0);
  });
});

describe('Server.schedule', () => {
  it('runs a job after the messages already queued and never while an asynchronous request runs', async () => {
    const order: string[] = [];
    let release!: () => void;
    const methods: MethodEntry[] = [
      {
        name: 'slow',
        validate: Object.assign(() => true, { errors: null }),
        handler: (() =>
          new Promise<string>((resolve) => {
            order.push('slow:start');
            release = () => {
              order.push('slow:end');
              resolve('done');
            };
          })) as MethodEntry['handler'],
      },
    ];
    const input = new PassThrough();
    const output = new PassThrough();
    const server = new Server({
      reader: new NdjsonMessageReader(input, 1 << 20),
      writer: new StreamMessageWriter(output, 'ndjson'),
      dispatcher: new Dispatcher(methods),
      log: { warn: () => {}, error: () => {} },
      onInputEnd: () => {},
      onOutputError: () => {},
    });
    server.start();
    input.write('{"jsonrpc":"2.0","id":1,"method":"slow"}\n');
    await new Promise((r) => setImmediate(r));
    server.schedule(() => void order.push('job'));
    expect(order).to.deep.equal(['slow:start']);
    release();
    await server.idle();
    await new Promise((r) => setImmediate(r));
    expect(order).to.deep.equal(['slow:start', 'slow:end', 'job']);
    // A job that throws is logged by the server, and the queue goes on.
    server.schedule(() => {
      throw new Error('boom');
    });
    server.schedule(() => void order.push('after'));
    expect(order.at(-1)).to.equal('after');
    input.end();
  });
});

describe('request text kept for handlers (ctx.text)', () => {
  const seen: (string | undefined)[] = [];
  const echo: MethodEntry = {
    name: 'echo',
    validate: Object.assign(() => true, { errors: null }),
    handler: ((_p: unknown, ctx: RequestContext) => {
      seen.push(ctx.text);
      return null;
    }) as MethodEntry['handler'],
  };
  beforeEach(() => {
    seen.length = 0;
  });

  async function through(make: (input: PassThrough) => NdjsonMessageReader | HeaderMessageReader, wire: string): Promise<void> {
    const input = new PassThrough();
    const reader = make(input);
    const dispatcher = new Dispatcher([echo]);
    const done = new Promise<void>((r) => reader.onClose(() => r()));
    reader.listen((m) => {
      void dispatcher.handle(m);
    });
    input.end(wire);
    await done;
    reader.dispose();
  }

  it('is the line exactly as it arrived (NDJSON), spacing and key order included', async () => {
    const text = '{ "params": {"b": 1, "a": [1, 2]}, "method": "echo", "id": 7, "jsonrpc": "2.0" }';
    await through((i) => new NdjsonMessageReader(i, 1 << 20), `${text}\n`);
    expect(seen).to.deep.equal([text]);
  });

  it('is the body exactly as it arrived (Content-Length)', async () => {
    const text = '{"jsonrpc":"2.0","id":"x","method":"echo","params":{"s":"é ✓"}}';
    await through((i) => new HeaderMessageReader(i, 1 << 20), `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    expect(seen).to.deep.equal([text]);
  });

  it('is each batch member\'s own text (compact), and absent for messages that did not come from a reader', async () => {
    await through((i) => new NdjsonMessageReader(i, 1 << 20), '[{"jsonrpc":"2.0", "id":1, "method":"echo"}]\n');
    await new Dispatcher([echo]).handle({ jsonrpc: '2.0', id: 2, method: 'echo' });
    expect(seen).to.deep.equal(['{"jsonrpc":"2.0","id":1,"method":"echo"}', undefined]);
    expect(textOf({})).to.equal(undefined);
    expect(textOf(null)).to.equal(undefined);
  });
});

describe('Server: requests that run beside the queue', () => {
  it('answers the requests behind a beside request first, and idle() waits for it', async () => {
    let release!: () => void;
    const methods: MethodEntry[] = [
      {
        name: 'long',
        beside: true,
        validate: Object.assign(() => true, { errors: null }),
        handler: (() => new Promise<string>((resolve) => (release = () => resolve('long done')))) as MethodEntry['handler'],
      },
      { name: 'quick', validate: Object.assign(() => true, { errors: null }), handler: (() => 'quick done') as MethodEntry['handler'] },
    ];
    const input = new PassThrough();
    const output = new PassThrough();
    const lines: string[] = [];
    output.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    let ended = false;
    const server = new Server({
      reader: new NdjsonMessageReader(input, 1 << 20),
      writer: new StreamMessageWriter(output, 'ndjson'),
      dispatcher: new Dispatcher(methods),
      log: { warn: () => {}, error: () => {} },
      onInputEnd: () => (ended = true),
      onOutputError: () => {},
    });
    server.start();
    input.write('{"jsonrpc":"2.0","id":1,"method":"long"}\n{"jsonrpc":"2.0","id":2,"method":"quick"}\n');
    input.end();
    await new Promise((r) => setTimeout(r, 20));
    expect(lines.map((l) => JSON.parse(l).id)).to.deep.equal([2]);
    let idle = false;
    void server.idle().then(() => (idle = true));
    await new Promise((r) => setImmediate(r));
    expect(idle, 'idle waits for the request beside the queue').to.equal(false);
    expect(ended, 'input end is reported only when it is answered too').to.equal(false);
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect(lines.map((l) => JSON.parse(l).id)).to.deep.equal([2, 1]);
    expect(idle).to.equal(true);
    expect(ended).to.equal(true);
  });
});

describe('Store: data.db as this process left it (foreignWrite, for the clean-close record)', () => {
  let t: TempStore;
  beforeEach(async () => {
    t = await openTempStore();
    t.store.db.exec('CREATE TABLE bulk (x TEXT NOT NULL) STRICT');
  });
  afterEach(() => t.cleanup());

  const write = (): void => {
    t.store.write(() => t.store.db.prepare('INSERT INTO bulk VALUES (?)').run('x'.repeat(64 * 1024)));
  };
  const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 20)); // past the timestamp tick
  const overwritePage = (): void => {
    const fd = openSync(t.dbPath, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096);
    closeSync(fd);
  };

  it('its own checkpoints change the file and it still vouches for it: automatic (inside commits), idle, explicit', async () => {
    t.store.db.pragma('wal_autocheckpoint = 4'); // SQLite checkpoints inside nearly every commit
    const before = statSync(t.dbPath, { bigint: true });
    for (let i = 0; i < 20; i++) {
      write();
      await tick();
    }
    expect(statSync(t.dbPath).size, 'the automatic checkpoints wrote data.db').to.be.above(Number(before.size));
    t.store.ownFileWrite(() => t.store.db.pragma('wal_checkpoint(PASSIVE)'));
    write();
    t.store.checkpoint();
    expect(t.store.foreignWrite).to.equal(undefined);
  });

  it('a doctor with vacuum, whose commits run outside Store.write and checkpoint automatically, is its own write', async () => {
    for (let i = 0; i < 5; i++) write();
    t.store.checkpoint();
    t.store.db.exec('DELETE FROM bulk');
    t.store.db.pragma('wal_autocheckpoint = 1');
    await tick();
    expect(doctor(t.store, true).ok).to.equal(true);
    expect(t.store.foreignWrite).to.equal(undefined);
  });

  it('another program\'s write is seen, though a checkpoint of its own follows it (inside the next commit)', async () => {
    write();
    t.store.checkpoint();
    await tick();
    overwritePage();
    t.store.db.pragma('wal_autocheckpoint = 1');
    write(); // checkpoints automatically: data.db changes again, by this process
    expect(t.store.foreignWrite).to.match(/written by another program/);
  });

  it('a file renamed over data.db is seen at close (same size and times do not hide it)', async () => {
    write();
    t.store.checkpoint();
    copyFileSync(t.dbPath, `${t.dbPath}.other`);
    renameSync(`${t.dbPath}.other`, t.dbPath);
    expect(t.store.foreignWrite).to.match(/replaced by another file/);
  });
});
