/**
 * The contract's Transport section, through the real process, in both framings: framing
 * detection, requests/notifications/batches, the JSON-RPC error codes of the transport, the
 * message size limit, ordering, stdout hygiene, and input split at awkward byte boundaries.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { runOnce, sidecarCommand, StoreProcess, tempDir, type Framing, type RpcResponse, type StartOptions } from '../helpers/process.js';
import { makeSong } from '../helpers/fixtures.js';

const FRAMINGS: readonly Framing[] = ['ndjson', 'header'];

/** One message body in a framing, as bytes. */
function frame(framing: Framing, body: string | Buffer): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return framing === 'ndjson'
    ? Buffer.concat([bytes, Buffer.from('\n')])
    : Buffer.concat([Buffer.from(`Content-Length: ${bytes.length}\r\n\r\n`, 'ascii'), bytes]);
}

const req = (id: string | number, method: string, params?: unknown): Record<string, unknown> => ({
  jsonrpc: '2.0',
  id,
  method,
  ...(params === undefined ? {} : { params }),
});

const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let procs: StoreProcess[] = [];

async function start(options: StartOptions = {}): Promise<StoreProcess> {
  const p = await StoreProcess.start(options);
  procs.push(p);
  return p;
}

async function cleanupProcs(): Promise<void> {
  await Promise.all(procs.map((p) => p.cleanup()));
  procs = [];
}

let sentinelCounter = 0;

/**
 * Sends `message` (a JSON value in the process's framing, or raw bytes when `raw`), then a
 * sentinel system.ping, and returns every message that came back before the sentinel's answer.
 * Since requests are answered in order, this is exactly what `message` produced.
 */
async function exchange(p: StoreProcess, message: unknown, raw = false): Promise<unknown[]> {
  const before = p.received.length;
  if (raw) p.sendRaw(message as string | Buffer);
  else p.send(message);
  const id = `sentinel-${++sentinelCounter}`;
  const sentinel = await p.request('system.ping', undefined, id);
  expect(sentinel.result, 'the sentinel ping after the message is answered').to.have.property('pong', true);
  const out = p.received.slice(before);
  expect(out[out.length - 1]).to.deep.equal(sentinel);
  return out.slice(0, -1);
}

/** Exactly one error response, with `code` (and, when given, `id`). */
function expectSingleError(out: unknown[], code: number, id?: string | number | null): RpcResponse {
  expect(out, JSON.stringify(out)).to.have.length(1);
  const r = out[0] as RpcResponse;
  expect(r).to.be.an('object').and.not.be.an('array');
  expect(r.jsonrpc).to.equal('2.0');
  expect(r.error, JSON.stringify(r)).to.be.an('object');
  expect(r.error!.code).to.equal(code);
  expect(r.error!.message).to.be.a('string').and.not.be.empty;
  expect(r).to.not.have.property('result');
  if (id !== undefined) expect(r.id).to.equal(id);
  return r;
}

describe('transport: framing detection', () => {
  afterEach(cleanupProcs);
  for (const framing of FRAMINGS) {
    it(`detects ${framing} framing from the first non-whitespace byte, tolerating leading whitespace`, async () => {
      const p = await start({ framing, waitReady: false });
      p.sendRaw('\n\r\n  \t');
      await tick(20); // whitespace alone in its own read
      p.sendRaw(Buffer.concat([Buffer.from(' \n'), frame(framing, JSON.stringify(req('first', 'system.info')))]));
      const r = await p.waitForResponse('first');
      expect(r.error).to.equal(undefined);
      expect(r.result.framing).to.equal(framing);
      // and it keeps speaking that framing
      expect(await p.call('system.ping')).to.have.property('pong', true);
    });
  }

  it('--framing ndjson forces newline framing even when the input starts with C', async () => {
    const p = await start({ framing: 'ndjson', waitReady: false, args: ['--framing', 'ndjson'] });
    const body = JSON.stringify(req(1, 'system.info'));
    // Read as NDJSON, "Content-Length: N\r" is a line that is not JSON, the blank line is
    // ignored, and the body line is a request of its own.
    p.sendRaw(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}\n`);
    const answer = await p.waitForResponse(1);
    const first = p.received[0] as RpcResponse;
    expect(first.id).to.equal(null);
    expect(first.error?.code).to.equal(-32700);
    expect(p.received[1]).to.deep.equal(answer);
    expect(answer.result.framing).to.equal('ndjson');
  });

  it('--framing header forces header framing even when the input starts with {', async () => {
    const p = await start({ framing: 'header', waitReady: false, args: ['--framing', 'header'] });
    // A JSON line is not a header block: no Content-Length.
    p.sendRaw(`${JSON.stringify(req(1, 'system.ping'))}\r\n\r\n`);
    p.send(req(2, 'system.info'));
    const answer = await p.waitForResponse(2);
    expect(p.received).to.have.length(2);
    const first = p.received[0] as RpcResponse;
    expect(first.id).to.equal(null);
    expect(first.error?.code).to.equal(-32700);
    expect(answer.result.framing).to.equal('header');
  });
});

describe('transport: requests and notifications', () => {
  afterEach(cleanupProcs);
  for (const framing of FRAMINGS) {
    it(`${framing}: answers a request with its id and the result`, async () => {
      const p = await start({ framing });
      const out = await exchange(p, req('abc', 'songs.count', {}));
      expect(out).to.deep.equal([{ jsonrpc: '2.0', id: 'abc', result: { count: 0 } }]);
    });

    it(`${framing}: sends nothing back for a notification, but still performs it`, async () => {
      const p = await start({ framing });
      const song = makeSong();
      const out = await exchange(p, { jsonrpc: '2.0', method: 'songs.create', params: { item: song } });
      // no response; the only message is the store.changed notification of the write
      for (const m of out) expect(m).to.not.have.property('id');
      expect(out.filter((m) => (m as { method?: string }).method !== 'store.changed')).to.deep.equal([]);
      expect((await p.call('songs.get', { id: song.id })).name).to.equal(song.name);
    });

    it(`${framing}: a notification of an unknown method produces no output`, async () => {
      const p = await start({ framing });
      expect(await exchange(p, { jsonrpc: '2.0', method: 'no.such.method' })).to.deep.equal([]);
    });

    it(`${framing}: methods whose params are all optional may omit params`, async () => {
      const p = await start({ framing });
      for (const method of ['system.info', 'system.ping', 'songs.list', 'songs.count']) {
        const r = await p.request(method); // no params member at all
        expect(r.error, `${method}: ${JSON.stringify(r.error)}`).to.equal(undefined);
        expect(r.result, method).to.be.an('object');
      }
      expect((await p.request('songs.count')).result).to.deep.equal({ count: 0 });
      expect((await p.request('songs.list')).result.items).to.deep.equal([]);
    });
  }
});

describe('transport: batches', () => {
  afterEach(cleanupProcs);
  for (const framing of FRAMINGS) {
    it(`${framing}: answers a batch with an array of responses in order, omitting notifications`, async () => {
      const p = await start({ framing });
      const song = makeSong();
      const batch = [
        req(1, 'songs.create', { item: song }),
        { jsonrpc: '2.0', method: 'system.ping' },
        req('two', 'songs.get', { id: song.id }),
        req(3, 'songs.count', {}),
        { jsonrpc: '2.0', method: 'songs.count', params: {} },
        req(4, 'no.such.method'),
      ];
      const out = (await exchange(p, batch)).filter((m) => (m as { method?: string }).method !== 'store.changed');
      expect(out).to.have.length(1);
      const responses = out[0] as RpcResponse[];
      expect(responses).to.be.an('array');
      expect(responses.map((r) => r.id)).to.deep.equal([1, 'two', 3, 4]);
      expect(responses[0]!.result.id).to.equal(song.id);
      expect(responses[1]!.result.name).to.equal(song.name);
      expect(responses[2]!.result).to.deep.equal({ count: 1 });
      expect(responses[3]!.error?.code).to.equal(-32601);
    });

    it(`${framing}: an all-notification batch produces no output at all`, async () => {
      const p = await start({ framing });
      const out = await exchange(p, [
        { jsonrpc: '2.0', method: 'system.ping' },
        { jsonrpc: '2.0', method: 'songs.count', params: {} },
        { jsonrpc: '2.0', method: 'no.such.method' },
      ]);
      expect(out).to.deep.equal([]);
    });

    it(`${framing}: an empty batch is one -32600 with id null`, async () => {
      const p = await start({ framing });
      expectSingleError(await exchange(p, []), -32600, null);
    });

    it(`${framing}: invalid members of a batch get their own -32600 entries`, async () => {
      const p = await start({ framing });
      const out = await exchange(p, [1, req(7, 'system.ping'), { foo: 1 }, 'x', req(8, 'songs.count')]);
      expect(out).to.have.length(1);
      const responses = out[0] as RpcResponse[];
      expect(responses).to.be.an('array').with.length(5);
      for (const i of [0, 2, 3]) {
        expect(responses[i]!.id, `member ${i}`).to.equal(null);
        expect(responses[i]!.error?.code, `member ${i}`).to.equal(-32600);
      }
      expect(responses[1]).to.include({ id: 7 });
      expect(responses[1]!.result.pong).to.equal(true);
      expect(responses[4]).to.deep.equal({ jsonrpc: '2.0', id: 8, result: { count: 0 } });
    });
  }
});

describe('transport: parse errors and invalid requests', () => {
  afterEach(cleanupProcs);
  for (const framing of FRAMINGS) {
    it(`${framing}: unparseable input is -32700 with id null, and the process keeps serving`, async () => {
      const p = await start({ framing });
      expectSingleError(await exchange(p, frame(framing, '{"jsonrpc": "2.0", "id": 1, "method": '), true), -32700, null);
      expectSingleError(await exchange(p, frame(framing, '{bad}'), true), -32700, null);
      // a batch that is not JSON is one parse error, not a batch
      expectSingleError(await exchange(p, frame(framing, '[{"jsonrpc":"2.0","method":"system.ping"},'), true), -32700, null);
      expect(await p.call('songs.count', {})).to.deep.equal({ count: 0 });
    });

    it(`${framing}: JSON that is not a request is -32600`, async () => {
      const p = await start({ framing });
      const notRequests: unknown[] = [
        { foo: 1 },
        42,
        'system.ping',
        null,
        true,
        { jsonrpc: '1.0', id: 1, method: 'system.ping' },
        { id: 1, method: 'system.ping' },
        { jsonrpc: '2.0', id: 1, method: 42 },
        { jsonrpc: '2.0', id: 1, result: { pong: true } },
        { jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'x' } },
      ];
      for (const m of notRequests) {
        const out = await exchange(p, m);
        const r = expectSingleError(out, -32600);
        expect([null, 1], JSON.stringify(m)).to.include(r.id);
      }
    });

    it(`${framing}: an id of invalid type is -32600 with id null`, async () => {
      const p = await start({ framing });
      for (const id of [{ a: 1 }, [1], true]) {
        expectSingleError(await exchange(p, { jsonrpc: '2.0', id, method: 'system.ping' }), -32600, null);
      }
    });

    it(`${framing}: an unknown method is -32601 with data {method}`, async () => {
      const p = await start({ framing });
      const r = expectSingleError(await exchange(p, req(9, 'songs.fly', {})), -32601, 9);
      expect(r.error!.data).to.deep.equal({ method: 'songs.fly' });
    });

    it(`${framing}: params given as an array are -32602`, async () => {
      const p = await start({ framing });
      expectSingleError(await exchange(p, req(10, 'songs.count', [])), -32602, 10);
      expectSingleError(await exchange(p, req(11, 'songs.get', ['some-id'])), -32602, 11);
    });
  }

  it('header: a body that is not JSON is -32700 and the next framed message still works', async () => {
    const p = await start({ framing: 'header' });
    const body = Buffer.from('this is {not json}', 'utf8');
    p.sendRaw(Buffer.concat([frame('header', body), frame('header', JSON.stringify(req(5, 'songs.count', {})))]));
    const r = await p.waitForResponse(5);
    expect(r.result).to.deep.equal({ count: 0 });
    const idx = p.received.indexOf(r);
    const parseError = p.received[idx - 1] as RpcResponse;
    expect(parseError.id).to.equal(null);
    expect(parseError.error?.code).to.equal(-32700);
  });
});

describe('transport: message size limit', () => {
  afterEach(cleanupProcs);
  const LIMIT = 1000;
  const args = ['--max-message-bytes', String(LIMIT)];
  /** A request of exactly `bytes` bytes of JSON. */
  const sized = (id: string | number, bytes: number): string => {
    const base = JSON.stringify(req(id, 'songs.count', { genre: '' }));
    const json = JSON.stringify(req(id, 'songs.count', { genre: 'x'.repeat(bytes - base.length) }));
    expect(Buffer.byteLength(json)).to.equal(bytes);
    return json;
  };

  it('ndjson: a line over the limit sent in several chunks is -32600 (id null) and skipped; the next is answered', async () => {
    const p = await start({ framing: 'ndjson', args });
    const big = Buffer.from(`${sized(1, 2500)}\n`);
    const before = p.received.length;
    for (let i = 0; i < big.length; i += 400) {
      p.sendRaw(big.subarray(i, i + 400));
      await tick(10);
    }
    const next = await p.request('songs.count', {}, 'next');
    const out = p.received.slice(before);
    expect(out).to.have.length(2);
    expectSingleError(out.slice(0, 1), -32600, null);
    expect(next.result).to.deep.equal({ count: 0 });
  });

  it('ndjson: a line over the limit sent in one chunk is -32600 (id null) and skipped; the next is answered', async () => {
    const p = await start({ framing: 'ndjson', args });
    const out = await exchange(p, `${sized(1, 5000)}\n`, true);
    expectSingleError(out, -32600, null);
    expect(await p.call('songs.count', {})).to.deep.equal({ count: 0 });
  });

  it('ndjson: the request right after an oversized line in the same write is answered', async () => {
    const p = await start({ framing: 'ndjson', args });
    p.sendRaw(`${sized(1, 1500)}\n${JSON.stringify(req(2, 'songs.count', {}))}\n`);
    const r = await p.waitForResponse(2);
    expect(r.result).to.deep.equal({ count: 0 });
    expect(p.received.slice(-2)[0]).to.deep.include({ id: null });
    expect((p.received.slice(-2)[0] as RpcResponse).error?.code).to.equal(-32600);
  });

  it('header: a Content-Length over the limit is -32600 (id null), its body skipped; the next frame is answered', async () => {
    const p = await start({ framing: 'header', args });
    const big = frame('header', sized(1, 3000));
    const before = p.received.length;
    // header first, body in pieces, then the next frame in the same write as the body's tail
    p.sendRaw(big.subarray(0, 700));
    await tick(10);
    p.sendRaw(big.subarray(700, 2000));
    await tick(10);
    p.sendRaw(Buffer.concat([big.subarray(2000), frame('header', JSON.stringify(req('next', 'songs.count', {})))]));
    const next = await p.waitForResponse('next');
    const out = p.received.slice(before);
    expect(out).to.have.length(2);
    expectSingleError(out.slice(0, 1), -32600, null);
    expect(next.result).to.deep.equal({ count: 0 });
    // the oversized request itself was never executed
    expect(out.some((m) => (m as RpcResponse).id === 1)).to.equal(false);
  });

  for (const framing of FRAMINGS) {
    it(`${framing}: a message just within the limit is served normally`, async () => {
      const p = await start({ framing, args });
      p.sendRaw(frame(framing, sized(1, LIMIT)));
      expect(await p.waitForResponse(1)).to.deep.equal({ jsonrpc: '2.0', id: 1, result: { count: 0 } });
    });
  }
});

describe('transport: ordering', () => {
  afterEach(cleanupProcs);
  for (const framing of FRAMINGS) {
    it(`${framing}: pipelined requests are answered in request order, each get seeing the create before it`, async () => {
      const p = await start({ framing });
      const songs = Array.from({ length: 100 }, (_, i) => makeSong({ name: `Pipelined ${i}` }));
      const ids: number[] = [];
      const chunks: Buffer[] = [];
      songs.forEach((song, i) => {
        chunks.push(frame(framing, JSON.stringify(req(2 * i + 1, 'songs.create', { item: song }))));
        chunks.push(frame(framing, JSON.stringify(req(2 * i + 2, 'songs.get', { id: song.id }))));
        ids.push(2 * i + 1, 2 * i + 2);
      });
      const before = p.received.length;
      // without waiting for answers: a few large writes and many small ones
      p.sendRaw(Buffer.concat(chunks.slice(0, 120)));
      for (const c of chunks.slice(120)) p.sendRaw(c);
      await p.waitForResponse(200);
      const responses = p.received.slice(before).filter((m) => (m as RpcResponse).id !== undefined) as RpcResponse[];
      expect(responses.map((r) => r.id)).to.deep.equal(ids);
      songs.forEach((song, i) => {
        const created = responses[2 * i]!;
        const got = responses[2 * i + 1]!;
        expect(created.error, JSON.stringify(created.error)).to.equal(undefined);
        expect(got.error, JSON.stringify(got.error)).to.equal(undefined);
        expect(got.result.id).to.equal(song.id);
        expect(got.result.name).to.equal(`Pipelined ${i}`);
        expect(got.result.revision).to.equal(1);
      });
      expect(await p.call('songs.count', {})).to.deep.equal({ count: 100 });
    });
  }
});

describe('transport: stdout carries protocol only', () => {
  afterEach(cleanupProcs);
  /** Splits raw stdout into JSON values, failing on anything that is not a whole frame of JSON. */
  function parseStdout(framing: Framing, raw: Buffer): unknown[] {
    const out: unknown[] = [];
    if (framing === 'ndjson') {
      const text = raw.toString('utf8');
      expect(text.endsWith('\n'), 'stdout ends with a newline').to.equal(true);
      for (const line of text.slice(0, -1).split('\n')) out.push(JSON.parse(line));
      return out;
    }
    let rest = raw;
    while (rest.length > 0) {
      const end = rest.indexOf('\r\n\r\n');
      expect(end, `a header block in ${JSON.stringify(rest.subarray(0, 80).toString())}`).to.be.greaterThan(0);
      const m = /^Content-Length: (\d+)$/i.exec(rest.subarray(0, end).toString('ascii'));
      expect(m, rest.subarray(0, end).toString()).to.not.equal(null);
      const length = Number(m![1]);
      expect(rest.length).to.be.at.least(end + 4 + length);
      out.push(JSON.parse(rest.subarray(end + 4, end + 4 + length).toString('utf8')));
      rest = rest.subarray(end + 4 + length);
    }
    return out;
  }

  const isRpcMessage = (m: unknown): boolean => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
    const o = m as Record<string, unknown>;
    if (o.jsonrpc !== '2.0') return false;
    if (typeof o.method === 'string') return !('id' in o); // server-to-host notification
    return 'id' in o && ('result' in o) !== ('error' in o);
  };

  for (const framing of FRAMINGS) {
    it(`${framing}: every stdout message is JSON-RPC; logs go to stderr and logs/persistence.log`, async () => {
      const p = await start({ framing, args: ['--log-level', 'info'] });
      const raw: Buffer[] = [];
      p.child.stdout!.on('data', (c: Buffer) => raw.push(c));
      // a mix of traffic: success, notifications, errors, a parse error, a batch, a shutdown
      const song = makeSong();
      await p.call('songs.create', { item: song });
      await p.request('songs.get', { id: 'missing' });
      await exchange(p, frame(framing, '{oops'), true);
      await exchange(p, [req('b1', 'system.ping'), { jsonrpc: '2.0', method: 'system.ping' }, 3]);
      await p.request('no.such.method');
      await p.call('songs.delete', { id: song.id });
      await p.call('system.shutdown');
      expect((await p.exited).code).to.equal(0);

      const messages = parseStdout(framing, Buffer.concat(raw));
      expect(messages.length).to.be.at.least(8);
      for (const m of messages) {
        for (const one of Array.isArray(m) ? m : [m]) expect(isRpcMessage(one), JSON.stringify(one)).to.equal(true);
      }

      const stderrLines = p.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(stderrLines.length, 'info logs reach stderr').to.be.greaterThan(0);
      for (const line of stderrLines) expect(() => JSON.parse(line), line).to.not.throw();

      const logFile = join(p.dataDir, 'logs', 'persistence.log');
      expect(existsSync(logFile), logFile).to.equal(true);
      const logLines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
      expect(logLines.length).to.be.greaterThan(0);
      for (const line of logLines) {
        const entry = JSON.parse(line);
        expect(entry).to.be.an('object');
        expect(entry).to.have.property('msg');
      }
    });
  }
});

describe('transport: input split at awkward boundaries', () => {
  afterEach(cleanupProcs);
  it('header: a frame delivered one byte at a time (from the very first byte) still parses', async () => {
    const p = await start({ framing: 'header', waitReady: false });
    const bytes = frame('header', JSON.stringify(req(1, 'system.info')));
    for (const b of bytes) {
      p.sendRaw(Buffer.from([b]));
      await tick(1);
    }
    const r = await p.waitForResponse(1);
    expect(r.result.framing).to.equal('header');
    expect(p.received).to.have.length(1);
  });

  it('ndjson: a line delivered one byte at a time (from the very first byte) still parses', async () => {
    const p = await start({ framing: 'ndjson', waitReady: false });
    const bytes = frame('ndjson', JSON.stringify(req(1, 'system.info')));
    for (const b of bytes) {
      p.sendRaw(Buffer.from([b]));
      await tick(1);
    }
    const r = await p.waitForResponse(1);
    expect(r.result.framing).to.equal('ndjson');
    expect(p.received).to.have.length(1);
  });

  for (const framing of FRAMINGS) {
    it(`${framing}: a multi-byte UTF-8 character split across writes still parses`, async () => {
      const p = await start({ framing });
      const name = 'Café 🎵 Ωμέγα 日本';
      const song = makeSong({ name });
      const bytes = frame(framing, JSON.stringify(req('c', 'songs.create', { item: song })));
      const emoji = bytes.indexOf(Buffer.from('🎵'));
      const e = bytes.indexOf(Buffer.from('é'));
      expect(emoji).to.be.greaterThan(0);
      // cut inside the 2-byte é and inside the 4-byte emoji
      p.sendRaw(bytes.subarray(0, e + 1));
      await tick(10);
      p.sendRaw(bytes.subarray(e + 1, emoji + 2));
      await tick(10);
      p.sendRaw(bytes.subarray(emoji + 2));
      const created = await p.waitForResponse('c');
      expect(created.error, JSON.stringify(created.error)).to.equal(undefined);
      expect(created.result.name).to.equal(name);
      expect((await p.call('songs.get', { id: song.id })).name).to.equal(name);
    });
  }
});

describe('transport: end of input', () => {
  afterEach(cleanupProcs);
  it('ndjson: a last message without a trailing newline is still answered', async () => {
    const dir = tempDir();
    try {
      const r = await runOnce(['--data-dir', dir], `${JSON.stringify(req(1, 'system.ping'))}\n${JSON.stringify(req(2, 'songs.count'))}`);
      expect(r.code).to.equal(0);
      const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as RpcResponse);
      expect(lines.map((l) => l.id)).to.deep.equal([1, 2]);
      expect(lines[1]!.result).to.deep.equal({ count: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('header: every frame sent before end of input is answered before exit', async () => {
    const dir = tempDir();
    try {
      const input = Buffer.concat([1, 2, 3].map((id) => frame('header', JSON.stringify(req(id, 'songs.count')))));
      const r = await runOnce(['--data-dir', dir], input);
      expect(r.code).to.equal(0);
      const ids = [...r.stdout.matchAll(/"id":(\d+)/g)].map((m) => Number(m[1]));
      expect(ids).to.deep.equal([1, 2, 3]);
      expect(r.stdout.startsWith('Content-Length: ')).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('transport: $/cancelRequest', () => {
  afterEach(cleanupProcs);

  it('a late cancel (the request was already answered) is ignored: the next request reusing the id is answered', async () => {
    const p = await start();
    const first = await p.request('songs.count', {}, 'x');
    expect(first.result).to.deep.equal({ count: 0 });
    p.notify('$/cancelRequest', { id: 'x' });
    const again = await p.request('songs.count', {}, 'x');
    expect(again.error, JSON.stringify(again.error)).to.equal(undefined);
    expect(again.result).to.deep.equal({ count: 0 });
  });
});

/** RssAnon of a live process in bytes (its heap and buffers, not its mapped code), from /proc. */
function rssAnonBytes(pid: number): number {
  const m = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no RssAnon for ${pid}`);
  return Number(m[1]) * 1024;
}

describe('transport: output backpressure', () => {
  const dirs: string[] = [];
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const MB = 1024 * 1024;

  /**
   * Spawns the sidecar, stops reading its stdout, and writes requests with large answers
   * (rpc.discover: ~90 KB for a 1 KB request, padded with a member the dispatcher ignores) until
   * stdin stops taking them or CAP requests (~280 MB of answers) were written. Answers read later
   * are recorded as [id, "result" | "error"] without keeping them (hundreds of MB).
   */
  async function stall(): Promise<{
    c: ChildProcess;
    exited: Promise<number | null>;
    sent: number;
    stalled: boolean;
    baseline: number;
    peak: number;
    answers: [number, string][];
    stderr: () => string;
    readAgain: () => void;
  }> {
    const dir = tempDir();
    dirs.push(dir);
    const [cmd, lead] = sidecarCommand();
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const c = spawn(cmd, [...lead, '--data-dir', dir, '--log-level', 'warn', '--auto-backup-hours', '0'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    child = c;
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    c.stdin!.on('error', () => {});
    const exited = new Promise<number | null>((resolve) => c.on('exit', (code) => resolve(code)));
    const answers: [number, string][] = [];
    let tail = '';
    const onData = (chunk: Buffer): void => {
      const lines = (tail + chunk.toString('utf8')).split('\n');
      tail = lines.pop()!;
      for (const line of lines) {
        const m = /^\{"jsonrpc":"2\.0","id":(\d+),"(result|error)"/.exec(line);
        answers.push(m ? [Number(m[1]), m[2]!] : [-1, line.slice(0, 100)]);
      }
    };
    c.stdout!.on('data', onData);
    c.stdin!.write(`${JSON.stringify(req(0, 'system.ping'))}\n`);
    while (answers.length < 1) await tick(10);
    answers.length = 0;
    const baseline = rssAnonBytes(c.pid!);

    c.stdout!.pause();
    c.stdout!.off('data', onData);
    const pad = 'x'.repeat(1000);
    const CAP = 3000;
    let sent = 1;
    let stalled = false;
    while (sent < CAP && !stalled) {
      const lines: string[] = [];
      for (let i = 0; i < 20; i++) lines.push(JSON.stringify({ ...req(sent++, 'rpc.discover'), pad }));
      if (!c.stdin!.write(`${lines.join('\n')}\n`)) {
        stalled = !(await Promise.race([new Promise((r) => c.stdin!.once('drain', () => r(true))), tick(1500).then(() => false)]));
      }
    }
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(rssAnonBytes(c.pid!));
      await tick(100);
    }
    const readAgain = (): void => {
      c.stdout!.on('data', onData);
      c.stdout!.resume();
    };
    return { c, exited, sent: sent - 1, stalled, baseline, peak: Math.max(...samples), answers, stderr: () => stderr, readAgain };
  }

  it('while the host does not read its answers, the sidecar stops reading requests and its memory stays flat; then every answer arrives in order and end of input exits 0', async function () {
    this.timeout(60_000);
    const s = await stall();
    expect(s.stalled, `the sidecar read all ${s.sent} requests (~${Math.round((s.sent * 93_000) / MB)} MB of answers) although nobody read its answers`).to.equal(true);
    expect(s.peak, `RssAnon ${Math.round(s.baseline / MB)} MB before, ${Math.round(s.peak / MB)} MB while stalled`).to.be.below(200 * MB);
    // End of input while stalled, then the host reads again: every answer, in order, then exit 0.
    s.c.stdin!.end();
    s.readAgain();
    expect(await s.exited, s.stderr()).to.equal(0);
    expect(s.answers.length).to.equal(s.sent);
    expect(s.answers.every(([id, kind], i) => id === i + 1 && kind === 'result'), 'results in request order').to.equal(true);
  });

  it('SIGTERM while the host does not read: once it reads again, what was read is answered in order (results, then -32030), and the exit is 0', async function () {
    this.timeout(60_000);
    const s = await stall();
    expect(s.stalled).to.equal(true);
    s.c.kill('SIGTERM');
    await tick(200);
    s.readAgain();
    expect(await s.exited, s.stderr()).to.equal(0);
    // Requests still in the pipe were never read, so never answered; every one read was.
    expect(s.answers.length).to.be.above(0).and.at.most(s.sent);
    expect(s.answers.every(([id], i) => id === i + 1), JSON.stringify(s.answers.slice(0, 5))).to.equal(true);
    const firstError = s.answers.findIndex(([, kind]) => kind === 'error');
    expect(firstError === -1 || s.answers.slice(firstError).every(([, kind]) => kind === 'error'), 'results, then refusals').to.equal(true);
  });

  it('SIGTERM while the host never reads stdout: the sidecar closes the store and exits 0 within the flush limit', async function () {
    this.timeout(60_000);
    const s = await stall();
    expect(s.stalled).to.equal(true);
    const t0 = Date.now();
    s.c.kill('SIGTERM');
    expect(await s.exited, s.stderr()).to.equal(0);
    expect(Date.now() - t0).to.be.below(15_000);
  });
});

/** How deep arrays and objects nest in `v` (a scalar is 0). */
function depthOf(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    max = Math.max(max, d + 1);
    for (const y of Object.values(x)) stack.push([y, d + 1]);
  }
  return max;
}

/** `levels` arrays nested in each other around 1. */
function nested(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

/**
 * The JSON text of `message` with each `"$deepN"` string replaced by N arrays nested around 1
 * (JSON.stringify of the test process cannot write thousands of levels: its stack).
 */
const deepText = (message: unknown): string =>
  JSON.stringify(message).replace(/"\$deep(\d+)"/g, (_, n: string) => `${'['.repeat(Number(n))}1${']'.repeat(Number(n))}`);

/** Sends `message` (with `$deepN` placeholders) in the process's framing. */
const sendDeep = (p: StoreProcess, message: unknown): void => p.sendRaw(frame(p.framing, deepText(message)));

describe('transport: nesting limit of a message (1,000 levels)', () => {
  afterEach(cleanupProcs);

  for (const framing of FRAMINGS) {
    it(`${framing}: autosave.stage with a state nested 6,000 deep is -32602 at its pointer, nothing is staged, and the process shuts down and restarts clean`, async () => {
      const dataDir = tempDir();
      try {
        const p = await start({ framing, dataDir });
        const song = makeSong();
        expect((await p.request('songs.save', { item: song })).error).to.equal(undefined);
        sendDeep(p, req('stage', 'autosave.stage', { songId: song.id, snapshot: { song, state: { deep: '$deep6000' } } }));
        const r = await p.waitForResponse('stage');
        expect(r.error?.code, JSON.stringify(r).slice(0, 300)).to.equal(-32602);
        const errors = r.error!.data.errors as { path: string; message: string }[];
        expect(errors).to.have.length(1);
        // The first array past the limit: 1,000 levels from the message's root.
        const levelsBefore = 5; // message, params, snapshot, state, deep (the first array is level 5)
        expect(errors[0]!.path).to.equal(`/snapshot/state/deep${'/0'.repeat(1001 - levelsBefore)}`);
        expect(errors[0]!.message).to.match(/nested deeper than 1000 levels/);
        expect(await p.call('autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 0 });
        expect((await p.call('autosave.list', { songId: song.id })).items).to.deep.equal([]);
        expect(await p.close()).to.deep.equal({ code: 0, signal: null });
        const again = await start({ framing, dataDir });
        expect(await again.call('system.ping')).to.have.property('pong', true);
        expect(await again.close()).to.deep.equal({ code: 0, signal: null });
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }

  it('songs.create with sections nested too deep is -32602 under /item/sections, and nothing is stored', async () => {
    const p = await start();
    const song = makeSong({ sections: [{ id: 'a', notes: '$deep2000' }] });
    sendDeep(p, req('create', 'songs.create', { item: song }));
    const r = await p.waitForResponse('create');
    expect(r.error?.code).to.equal(-32602);
    expect(r.error!.data.errors[0].path).to.match(/^\/item\/sections\/0\/notes(\/0)+$/);
    expect(await p.call('songs.count', {})).to.deep.equal({ count: 0 });
  });

  it('a message exactly 1,000 levels deep is served and stored deep-equal; one level more is refused', async () => {
    const p = await start();
    const at = (levels: number): Record<string, unknown> => {
      const item = makeSong({ sections: [{ id: 'a', notes: nested(levels) }] });
      return { jsonrpc: '2.0', id: `d${levels}`, method: 'songs.create', params: { item } };
    };
    // message, params, item, sections, sections[0]: the notes' first array is level 6.
    const fits = at(995);
    expect(depthOf(fits)).to.equal(1000);
    p.send(fits);
    const created = await p.waitForResponse('d995');
    expect(created.error, JSON.stringify(created.error)?.slice(0, 200)).to.equal(undefined);
    const stored = await p.call('songs.get', { id: (fits.params as any).item.id });
    expect(stored.sections).to.deep.equal((fits.params as any).item.sections);
    const over = at(996);
    expect(depthOf(over)).to.equal(1001);
    p.send(over);
    expect((await p.waitForResponse('d996')).error?.code).to.equal(-32602);
  });

  it('too deep outside params is -32600 to the request id; a deep notification is dropped; the process serves on', async () => {
    const p = await start();
    const out = await exchange(p, frame(p.framing, deepText({ jsonrpc: '2.0', id: 'x', method: 'system.ping', extra: '$deep1500' })), true);
    expectSingleError(out, -32600, 'x');
    expect((out[0] as RpcResponse).error!.message).to.match(/\/extra(\/0)+ is nested deeper than 1000 levels/);
    const notification = { jsonrpc: '2.0', method: 'songs.create', params: { item: makeSong({ sections: ['$deep3000'] }) } };
    expect(await exchange(p, frame(p.framing, deepText(notification)), true)).to.deep.equal([]);
    expect(await p.call('songs.count', {})).to.deep.equal({ count: 0 });
    // 100,000 arrays: a batch whose one member is not a request: an array of one -32600.
    const batch = await exchange(p, frame(p.framing, deepText('$deep100000')), true);
    expect(batch).to.have.length(1);
    expectSingleError(batch[0] as unknown[], -32600, null);
  });

  it('in a batch, only the member nested too deep is refused; the others run and are answered in order', async () => {
    const p = await start();
    const song = makeSong({ sections: ['$deep1200'] });
    const batch = [
      req(1, 'songs.count', {}),
      req(2, 'songs.create', { item: song }),
      nested(3),
      req(3, 'system.ping'),
    ];
    const out = await exchange(p, frame(p.framing, deepText(batch)), true);
    expect(out).to.have.length(1);
    const answers = out[0] as RpcResponse[];
    expect(answers.map((a) => [a.id, a.error?.code ?? 'ok'])).to.deep.equal([
      [1, 'ok'],
      [2, -32602],
      [null, -32600],
      [3, 'ok'],
    ]);
    expect((answers[1]!.error!.data as any).errors[0].path).to.match(/^\/item\/sections\/0(\/0)+$/);
  });
});
