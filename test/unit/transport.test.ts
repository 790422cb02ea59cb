/**
 * Framing (src/rpc/transport.ts): readers, writer and framing detection, fed from in-memory streams.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { PassThrough, Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  FramingError,
  HeaderMessageReader,
  NdjsonMessageReader,
  StreamMessageWriter,
  detectFraming,
  serialize,
} from '../../src/rpc/transport.js';
import { Dispatcher, type Validator } from '../../src/rpc/dispatcher.js';
import { RawJson } from '../../src/json-text.js';
import { Server } from '../../src/rpc/server.js';

type Reader = NdjsonMessageReader | HeaderMessageReader;
type Event = { m: unknown } | { e: 'parse' | 'too-large' | 'other'; bytes?: number; message: string } | { close: true };

/** Listens to a reader and records messages, errors and close, in the order they happen. */
function record(reader: Reader): { events: Event[]; closed: Promise<void> } {
  const events: Event[] = [];
  let done!: () => void;
  const closed = new Promise<void>((r) => (done = r));
  reader.onError((err) =>
    events.push(
      err instanceof FramingError
        ? { e: err.kind, bytes: err.bytes, message: err.message }
        : { e: 'other', message: (err as Error).message },
    ),
  );
  reader.onClose(() => {
    events.push({ close: true });
    done();
  });
  reader.listen((m) => events.push({ m }));
  return { events, closed };
}

/** Feeds `chunks` through a PassThrough into a fresh reader, ends the input, answers the events. */
async function feed(
  make: (input: PassThrough) => Reader,
  chunks: (string | Buffer)[],
): Promise<Event[]> {
  const input = new PassThrough();
  const reader = make(input);
  const { events, closed } = record(reader);
  for (const c of chunks) input.write(c);
  input.end();
  await closed;
  reader.dispose();
  return events;
}

const ndjson = (max = DEFAULT_MAX_MESSAGE_BYTES) => (input: PassThrough) => new NdjsonMessageReader(input, max);
const header = (max = DEFAULT_MAX_MESSAGE_BYTES) => (input: PassThrough) => new HeaderMessageReader(input, max);

const frame = (json: string, extraHeaders = ''): string =>
  `Content-Length: ${Buffer.byteLength(json)}\r\n${extraHeaders}\r\n${json}`;

/** Only the kinds of events, for order checks. */
const kinds = (events: Event[]): string[] =>
  events.map((ev) => ('m' in ev ? `m:${JSON.stringify(ev.m)}` : 'e' in ev ? `e:${ev.e}` : 'close'));

/** Splits bytes at the given cut points (any order, duplicates allowed). */
function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    if (p > prev) out.push(buf.subarray(prev, p));
    prev = Math.max(prev, p);
  }
  if (prev < buf.length) out.push(buf.subarray(prev));
  return out;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('transport: NdjsonMessageReader', () => {
  it('delivers one message per line, in order, then closes', async () => {
    const events = await feed(ndjson(), ['{"id":1}\n{"id":2}\n', '[{"id":3}]\n"scalar"\n']);
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'm:{"id":2}', 'm:[{"id":3}]', 'm:"scalar"', 'close']);
  });

  it('reports an unparseable line as a parse FramingError in stream order and goes on', async () => {
    const events = await feed(ndjson(), ['{"id":1}\n{"id": oops\n{"id":3}\n']);
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'e:parse', 'm:{"id":3}', 'close']);
  });

  it('accepts CR LF line endings', async () => {
    const events = await feed(ndjson(), ['{"a":1}\r\n{"b":2}\r\n']);
    expect(kinds(events)).to.deep.equal(['m:{"a":1}', 'm:{"b":2}', 'close']);
  });

  it('ignores blank and whitespace-only lines', async () => {
    const events = await feed(ndjson(), ['\n\n   \n\t\r\n{"a":1}\n\r\n\n', '  \n']);
    expect(kinds(events)).to.deep.equal(['m:{"a":1}', 'close']);
  });

  it('delivers a last line without a newline at the end of input, before close', async () => {
    const events = await feed(ndjson(), ['{"a":1}\n{"b"', ':2}']);
    expect(kinds(events)).to.deep.equal(['m:{"a":1}', 'm:{"b":2}', 'close']);
  });

  it('reassembles a multi-byte UTF-8 character split across chunks', async () => {
    const bytes = Buffer.from('{"name":"Beyoncé 東京 🎹"}\n');
    const chunks = Array.from(bytes, (b) => Buffer.from([b]));
    const events = await feed(ndjson(), chunks);
    expect(events[0]).to.deep.equal({ m: { name: 'Beyoncé 東京 🎹' } });
  });

  it('reports a line over the limit once as too-large, skips it, and delivers the next line', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(100) });
    for (const chunks of [[`{"a":1}\n${big}\n{"b":2}\n`], Array.from(`{"a":1}\n${big}\n{"b":2}\n`)]) {
      const events = await feed(ndjson(50), chunks);
      expect(kinds(events)).to.deep.equal(['m:{"a":1}', 'e:too-large', 'm:{"b":2}', 'close']);
      const err = events[1] as { bytes: number };
      expect(err.bytes).to.be.greaterThan(50);
    }
  });

  it('a line of exactly the limit is delivered; one byte more is too large', async () => {
    const exact = JSON.stringify({ p: 'x'.repeat(42) });
    expect(Buffer.byteLength(exact)).to.equal(50);
    expect(kinds(await feed(ndjson(50), [`${exact}\n`]))).to.deep.equal([`m:${exact}`, 'close']);
    const over = JSON.stringify({ p: 'x'.repeat(43) });
    expect(kinds(await feed(ndjson(50), [`${over}\n`]))).to.deep.equal(['e:too-large', 'close']);
  });

  it('an unterminated line over the limit at the end of input is reported once and not delivered', async () => {
    const events = await feed(ndjson(10), ['{"a":1}\n', '{"pad":"xxxxxxxxxxxxxxxx"}']);
    expect(kinds(events)).to.deep.equal(['m:{"a":1}', 'e:too-large', 'close']);
  });

  it('reports an error of the input stream', async () => {
    const input = new PassThrough();
    const reader = new NdjsonMessageReader(input, 1000);
    const { events } = record(reader);
    input.write('{"a":1}\n');
    await tick();
    input.emit('error', new Error('pipe broke'));
    expect(kinds(events)).to.deep.equal(['m:{"a":1}', 'e:other']);
    expect((events[1] as { message: string }).message).to.equal('pipe broke');
    reader.dispose();
  });

  it('property: a sequence of lines split at arbitrary byte offsets yields the same messages and errors in order', async () => {
    const item = fc.oneof(
      { weight: 4, arbitrary: fc.jsonValue().map((v) => ({ text: JSON.stringify(v), expect: `m:${JSON.stringify(JSON.parse(JSON.stringify(v)))}` })) },
      { weight: 1, arbitrary: fc.constantFrom('{oops', 'not json', '{"a":}', '[1,').map((t) => ({ text: t, expect: 'e:parse' })) },
      { weight: 1, arbitrary: fc.constantFrom('', '   ', '\r').map((t) => ({ text: t, expect: '' })) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(item, { minLength: 1, maxLength: 15 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.boolean(),
        fc.boolean(),
        async (items, cuts, crlf, finalNewline) => {
          const eol = crlf ? '\r\n' : '\n';
          let text = items.map((i) => i.text).join(eol);
          if (finalNewline) text += eol;
          const events = await feed(ndjson(), splitAt(Buffer.from(text), cuts));
          const expected = [...items.map((i) => i.expect).filter((k) => k !== ''), 'close'];
          expect(kinds(events)).to.deep.equal(expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('transport: HeaderMessageReader', () => {
  it('delivers framed messages in order, then closes', async () => {
    const events = await feed(header(), [frame('{"id":1}') + frame('{"id":2}'), frame('[{"id":3}]')]);
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'm:{"id":2}', 'm:[{"id":3}]', 'close']);
  });

  it('counts Content-Length in bytes, reads the header name case-insensitively and ignores other headers', async () => {
    const json = '{"name":"Déjà vu 🎹"}';
    const text =
      `content-length: ${Buffer.byteLength(json)}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n${json}` +
      frame('{"b":2}', 'X-Other: 1\r\n');
    const events = await feed(header(), [text]);
    expect(kinds(events)).to.deep.equal(['m:{"name":"Déjà vu 🎹"}', 'm:{"b":2}', 'close']);
  });

  it('reports a body that is not JSON as a parse FramingError in stream order and reads on', async () => {
    const events = await feed(header(), [frame('{"id":1}') + frame('{nope}') + frame('{"id":3}')]);
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'e:parse', 'm:{"id":3}', 'close']);
  });

  it('reports a header block without a valid Content-Length', async () => {
    const events = await feed(header(), ['Content-Length: abc\r\n\r\n']);
    expect(kinds(events)[0]).to.equal('e:parse');
    const none = await feed(header(), ['Content-Type: x\r\n\r\n']);
    expect(kinds(none)[0]).to.equal('e:parse');
  });

  it('reports a header block that does not end within 8 KiB', async () => {
    const events = await feed(header(), [`Content-Length: 2\r\nX: ${'a'.repeat(9000)}`]);
    expect(events.filter((e) => 'e' in e && e.e === 'parse')).to.have.length.greaterThan(0);
    expect(kinds(events)[0]).to.equal('e:parse');
  });

  it('reports end of input inside a body', async () => {
    const events = await feed(header(), [frame('{"id":1}'), 'Content-Length: 20\r\n\r\n{"id":']);
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'e:parse', 'close']);
    expect((events[1] as { message: string }).message).to.match(/ended inside a message/);
  });

  it('reports end of input inside a header block', async () => {
    const events = await feed(header(), [frame('{"id":1}'), 'Content-Len']);
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'e:parse', 'close']);
  });

  it('whitespace after the last frame at end of input is not an error', async () => {
    const events = await feed(header(), [frame('{"id":1}'), '\r\n']);
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'close']);
  });

  it('an oversized body is reported from its header alone, before its bytes arrive, then skipped', async () => {
    const input = new PassThrough();
    const reader = new HeaderMessageReader(input, 100);
    const { events, closed } = record(reader);
    input.write(frame('{"id":1}'));
    input.write('Content-Length: 5000\r\n\r\n');
    await tick();
    await tick();
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'e:too-large']);
    expect((events[1] as { bytes: number }).bytes).to.equal(5000);
    // The body, in pieces: JSON whose strings hold text that looks like frames. All skipped.
    const body = Buffer.alloc(5000, 0x20);
    body.write(JSON.stringify({ s: frame('{"fake":true}'), t: 'Content-Length: 3' }), 10);
    for (let i = 0; i < body.length; i += 777) input.write(body.subarray(i, i + 777));
    input.write(frame('{"id":2}'));
    input.end();
    await closed;
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'e:too-large', 'm:{"id":2}', 'close']);
  });

  it('an oversized body is not buffered: streaming 128 MiB past a 1 KiB limit keeps memory flat', async function () {
    this.timeout(30_000);
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const input = new PassThrough();
    const reader = new HeaderMessageReader(input, 1024);
    const { events, closed } = record(reader);
    const MiB = 1024 * 1024;
    const total = 128 * MiB;
    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    input.write(`Content-Length: ${total}\r\n\r\n`);
    let peak = 0;
    for (let sent = 0; sent < total; sent += MiB) {
      if (!input.write(Buffer.alloc(MiB, 0x7b))) await new Promise((r) => input.once('drain', r));
      if (sent % (16 * MiB) === 0) {
        await tick();
        gc();
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline);
      }
    }
    await tick();
    gc();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline);
    input.write(frame('{"after":true}'));
    input.end();
    await closed;
    expect(kinds(events)).to.deep.equal(['e:too-large', 'm:{"after":true}', 'close']);
    expect(peak, `retained ${Math.round(peak / MiB)} MiB`).to.be.lessThan(48 * MiB);
  });

  it('a body of exactly the limit is delivered; one byte more is too large', async () => {
    const exact = JSON.stringify({ p: 'x'.repeat(42) });
    expect(kinds(await feed(header(50), [frame(exact)]))).to.deep.equal([`m:${exact}`, 'close']);
    const over = JSON.stringify({ p: 'x'.repeat(43) });
    expect(kinds(await feed(header(50), [frame(over) + frame('{"n":1}')]))).to.deep.equal(['e:too-large', 'm:{"n":1}', 'close']);
  });

  it('property: framed messages split at arbitrary byte offsets yield the same messages in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.jsonValue(), fc.boolean()), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        async (messages, cuts) => {
          const text = messages
            .map(([v, extra]) => frame(JSON.stringify(v), extra ? 'Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n' : ''))
            .join('');
          const events = await feed(header(), splitAt(Buffer.from(text), cuts));
          expect(events).to.deep.equal([...messages.map(([v]) => ({ m: JSON.parse(JSON.stringify(v)) })), { close: true }]);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('transport: HeaderMessageReader keeps its footing', () => {
  const errors = (events: Event[]): string[] => events.filter((e): e is Extract<Event, { e: string }> => 'e' in e).map((e) => e.message);

  it('an absurd Content-Length (15 digits) is too-large, and the next frame is read: the reader does not go deaf', async () => {
    const events = await feed(header(), ['Content-Length: 999999999999999\r\n\r\n{"id":1}', frame('{"id":2}')]);
    expect(kinds(events)).to.deep.equal(['e:too-large', 'm:{"id":2}', 'close']);
    expect((events[0] as { bytes: number }).bytes).to.equal(999999999999999);
    // Past what a double holds exactly, and past Number.MAX_VALUE: still too large, still read on.
    const longer = await feed(header(), [`Content-Length: ${'9'.repeat(400)}\r\n\r\n{}`, frame('{"id":3}')]);
    expect(kinds(longer)).to.deep.equal(['e:too-large', 'm:{"id":3}', 'close']);
  });

  for (const [what, head] of [
    ['that is negative', 'Content-Length: -5'],
    ['that is not a number', 'Content-Length: five'],
    ['with a fraction', 'Content-Length: 8.0'],
    ['that is empty', 'Content-Length:'],
    ['given twice', 'Content-Length: 8\r\nContent-Length: 8'],
    ['given twice, differently', 'Content-Length: 8\r\nContent-length: 12'],
    ['that is missing', 'Content-Type: application/json'],
  ] as const) {
    it(`a Content-Length ${what} is one parse error; its body is skipped and the next frame read`, async () => {
      const events = await feed(header(), [`${head}\r\n\r\n{"id":1}`, frame('{"id":2}')]);
      expect(kinds(events)).to.deep.equal(['e:parse', 'm:{"id":2}', 'close']);
      expect(errors(events)[0]).to.match(/Content-Length/);
    });
  }

  it('an NDJSON line in a header-framed stream is answered at once, before its newline, and every line gets its own error', async () => {
    const input = new PassThrough();
    const { events, closed } = record(new HeaderMessageReader(input, 1000));
    input.write('{"jsonrpc":"2.0","id":1,"method":"system.ping"}');
    await tick();
    expect(kinds(events)).to.deep.equal(['e:parse']);
    expect(errors(events)[0]).to.match(/Content-Length framing/);
    input.write('\n[{"id":2}]\n\n');
    input.write(frame('{"id":3}'));
    input.end();
    await closed;
    expect(kinds(events)).to.deep.equal(['e:parse', 'e:parse', 'm:{"id":3}', 'close']);
  });

  it('junk ending right where a header starts, on the same line, costs one error and not the frame', async () => {
    const events = await feed(header(), [`{"id":1}garbage ${frame('{"id":2}')}`, `\u0000\u00ff${frame('{"id":3}')}`]);
    expect(kinds(events)).to.deep.equal(['e:parse', 'm:{"id":2}', 'e:parse', 'm:{"id":3}', 'close']);
  });

  it('header lines ending in a bare LF are not a header block; the next proper frame is read', async () => {
    const events = await feed(header(), ['Content-Length: 8\n\n{"id":1}\n', frame('{"id":2}')]);
    expect(kinds(events).at(-2)).to.equal('m:{"id":2}');
    expect(kinds(events).filter((k) => k === 'e:parse').length).to.be.at.least(1);
    expect(kinds(events).filter((k) => k.startsWith('m:'))).to.deep.equal(['m:{"id":2}']);
  });

  it('a header block that does not end within 8 KiB is one error, and the next frame is read', async () => {
    const events = await feed(header(), [`Content-Length: 2\r\nX: ${'a'.repeat(9000)}\r\n\r\n{}`, frame('{"id":2}')]);
    expect(kinds(events)).to.deep.equal(['e:parse', 'm:{"id":2}', 'close']);
  });

  it('a header line split across chunks while skipping is still found', async () => {
    const next = frame('{"id":2}');
    for (let cut = 1; cut < 24; cut++) {
      const events = await feed(header(10), ['Content-Length: 50\r\n\r\n{"a":"0123456789012345678901234567890123456789"}', next.slice(0, cut), next.slice(cut)]);
      expect(kinds(events), `cut ${cut}`).to.deep.equal(['e:too-large', 'm:{"id":2}', 'close']);
    }
  });

  it('property: oversized JSON bodies, whose strings may hold header-like text, are skipped and every frame after them is read', async () => {
    const headerish = fc.constantFrom('Content-Length: 5\r\n\r\n', 'content-length:1\r\n', '\r\n\r\n', '"', '\\');
    const value = fc.oneof(fc.jsonValue(), fc.array(headerish).map((a) => ({ s: a.join('') })), fc.array(headerish).map((a) => a));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(value, fc.boolean()), { minLength: 1, maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        async (messages, cuts) => {
          const LIMIT = 40;
          const text = messages.map(([v, pretty]) => frame(JSON.stringify(v, null, pretty ? '\r\n' : undefined))).join('');
          const events = await feed(header(LIMIT), splitAt(Buffer.from(text), cuts));
          const expected = messages.map(([v, pretty]) => {
            const json = JSON.stringify(v, null, pretty ? '\r\n' : undefined);
            return Buffer.byteLength(json) > LIMIT ? 'e:too-large' : `m:${JSON.stringify(JSON.parse(json))}`;
          });
          expect(kinds(events)).to.deep.equal([...expected, 'close']);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('transport: NdjsonMessageReader and header blocks', () => {
  it('a Content-Length header line in an NDJSON stream is a parse error that says so; the stream continues', async () => {
    const body = '{"id":1}';
    const events = await feed(ndjson(), [`Content-Length: ${body.length}\r\n\r\n${body}\n{"id":2}\n`]);
    expect(kinds(events)).to.deep.equal(['e:parse', 'm:{"id":1}', 'm:{"id":2}', 'close']);
    expect((events[0] as { message: string }).message).to.match(/Content-Length header in an NDJSON stream/);
  });
});

describe('transport: readers refuse what is not UTF-8', () => {
  for (const [name, make] of [['ndjson', ndjson()], ['header', header()]] as const) {
    it(`${name}: a message with invalid UTF-8 inside a string is a parse error, not a message with U+FFFD in it`, async () => {
      const bad = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff, 0xc3]), Buffer.from('"}')]);
      const wrap = (b: Buffer): Buffer => (name === 'ndjson' ? Buffer.concat([b, Buffer.from('\n')]) : Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`), b]));
      const events = await feed(make, [wrap(bad), wrap(Buffer.from('{"name":"é"}'))]);
      expect(kinds(events)).to.deep.equal(['e:parse', 'm:{"name":"é"}', 'close']);
      expect((events[0] as { message: string }).message).to.match(/UTF-8/);
    });
  }
});

describe('transport: reading pauses and resumes', () => {
  it('pause() stops taking chunks from the input; resume() takes them again', async () => {
    const input = new PassThrough();
    const reader = new NdjsonMessageReader(input, 1000);
    const { events, closed } = record(reader);
    input.write('{"id":1}\n');
    await tick();
    reader.pause();
    input.write('{"id":2}\n');
    await tick();
    await tick();
    expect(kinds(events)).to.deep.equal(['m:{"id":1}']);
    reader.resume();
    input.end();
    await closed;
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'm:{"id":2}', 'close']);
  });
});

describe('transport: StreamMessageWriter', () => {
  const collect = (output: PassThrough): (() => string) => {
    const chunks: Buffer[] = [];
    output.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    return () => Buffer.concat(chunks).toString('utf8');
  };

  it('ndjson: one JSON message per line, in call order', async () => {
    const output = new PassThrough();
    const text = collect(output);
    const writer = new StreamMessageWriter(output, 'ndjson');
    const response = { jsonrpc: '2.0', id: 1, result: 'a' };
    const notification = { jsonrpc: '2.0', method: 'n', params: { s: 'line\nbreak' } };
    await writer.write(response);
    await writer.write(notification);
    await writer.flush();
    expect(text()).to.equal(
      '{"jsonrpc":"2.0","id":1,"result":"a"}\n{"jsonrpc":"2.0","method":"n","params":{"s":"line\\nbreak"}}\n',
    );
  });

  it('header: Content-Length counts UTF-8 bytes of the body', async () => {
    const output = new PassThrough();
    const text = collect(output);
    const writer = new StreamMessageWriter(output, 'header');
    const msg = { jsonrpc: '2.0' as const, id: 'é', result: '🎹' };
    await writer.write(msg);
    await writer.flush();
    const json = JSON.stringify(msg);
    expect(Buffer.byteLength(json)).to.not.equal(json.length);
    expect(text()).to.equal(`Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
  });

  it('what the writer writes, the reader of the same framing reads back', async () => {
    for (const framing of ['ndjson', 'header'] as const) {
      const pipe = new PassThrough();
      const writer = new StreamMessageWriter(pipe, framing);
      const reader = framing === 'ndjson' ? new NdjsonMessageReader(pipe, 1 << 20) : new HeaderMessageReader(pipe, 1 << 20);
      const { events, closed } = record(reader);
      const msgs = [
        { jsonrpc: '2.0' as const, id: 1, method: 'a', params: { x: 'ünïcödé' } },
        { jsonrpc: '2.0' as const, method: 'b' },
        { jsonrpc: '2.0' as const, id: null, error: { code: -32700, message: 'Parse error' } },
      ];
      for (const m of msgs) await writer.write(m);
      await writer.flush();
      pipe.end();
      await closed;
      expect(events, framing).to.deep.equal([...msgs.map((m) => ({ m })), { close: true }]);
    }
  });

  it('an answer too large to be one string is answered -32600 to its id, and the writer goes on', async function () {
    this.timeout(30000);
    // A string as long as V8 allows: with its quotes, the answer's JSON cannot be one string.
    const huge = 'x'.repeat(536_870_888);
    const output = new PassThrough();
    const text = collect(output);
    const writer = new StreamMessageWriter(output, 'ndjson');
    await writer.write({ jsonrpc: '2.0', id: 7, result: { items: [huge] } } as never);
    await writer.write({ jsonrpc: '2.0', id: 8, result: 'after' } as never);
    await writer.flush();
    const lines = text().trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).to.have.length(2);
    expect(lines[0]).to.include({ jsonrpc: '2.0', id: 7 }).and.not.have.property('result');
    expect(lines[0].error.code).to.equal(-32600);
    expect(lines[0].error.message).to.match(/too large to send as one message.*smaller limit/);
    expect(lines[1]).to.deep.equal({ jsonrpc: '2.0', id: 8, result: 'after' });
  });

  it('in a batch, only the answers too large to serialise are replaced; all of them when the batch as a whole is', () => {
    // JSON.stringify's RangeError, raised where a value is serialised (as for an over-long string,
    // above; that takes seconds to build, so here it is raised directly).
    const tooLong = { toJSON: (): never => { throw new RangeError('Invalid string length'); } };
    const batch = [
      { jsonrpc: '2.0', id: 1, result: { items: [tooLong] } },
      { jsonrpc: '2.0', id: 2, result: 'small' },
    ];
    const answered = JSON.parse(serialize(batch)) as any[];
    expect(answered.map((r) => [r.id, r.error?.code ?? r.result])).to.deep.equal([
      [1, -32600],
      [2, 'small'],
    ]);
    // A notification cannot be answered: it becomes an error with id null rather than a crash.
    expect(JSON.parse(serialize({ jsonrpc: '2.0', method: 'n', params: tooLong })).error.code).to.equal(-32600);
  });

  it('a failure to serialise that is not about size is not hidden', () => {
    const writer = new StreamMessageWriter(new PassThrough(), 'ndjson');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => writer.write({ jsonrpc: '2.0', id: 1, result: circular } as never)).to.throw(TypeError);
  });

  it('is blocked once its output holds more than the high-water mark, and tells when it drains', async () => {
    const output = new PassThrough({ highWaterMark: 1024 });
    const writer = new StreamMessageWriter(output, 'ndjson');
    let drained = 0;
    writer.onDrain(() => drained++);
    await writer.write({ jsonrpc: '2.0', id: 1, result: 'x'.repeat(100) } as never);
    expect(writer.blocked).to.equal(false);
    // PassThrough buffers its readable side too: fill both.
    for (let i = 0; i < 10 && !writer.blocked; i++) await writer.write({ jsonrpc: '2.0', id: 2, result: 'x'.repeat(4096) } as never);
    expect(writer.blocked).to.equal(true);
    output.resume();
    await new Promise((r) => setImmediate(r));
    await writer.flush();
    expect(writer.blocked).to.equal(false);
    expect(drained).to.equal(1);
  });

  it('the answers written in one tick reach the output in one write', async () => {
    // A Writable with writev, as a pipe or socket is: corked writes arrive as one writev call.
    const calls: number[] = [];
    const output = new Writable({
      write: (_chunk, _enc, cb) => (calls.push(1), cb()),
      writev: (chunks, cb) => (calls.push(chunks.length), cb()),
    });
    const writer = new StreamMessageWriter(output, 'ndjson');
    for (let i = 0; i < 100; i++) void writer.write({ jsonrpc: '2.0', id: i, result: null } as never);
    await writer.flush();
    expect(calls, "one writev with every answer (and the flush marker)").to.deep.equal([101]);
  });

  it('a record read from the store goes out as its pieces: a large stored part is never copied into a longer string', async () => {
    const part = JSON.stringify(Array.from({ length: 8000 }, (_, i) => ({ n: i, x: 1.0 }))); // 150 KB
    const small = '{"tracks":[]}';
    const chunks: unknown[] = [];
    const output = new Writable({ decodeStrings: false, writev: (cs, cb) => (chunks.push(...cs.map((c) => c.chunk)), cb()) });
    const writer = new StreamMessageWriter(output, 'ndjson');
    const result = new RawJson(['{"id":"a"', ',"sections":', part, ',"mixGraph":', small, '}']);
    void writer.write({ jsonrpc: '2.0', id: 7, result } as never);
    await writer.flush();
    // The large part alone; the short pieces around it joined (fewer chunks).
    expect(chunks.filter((c) => c !== '')).to.deep.equal(['{"jsonrpc":"2.0","id":7,"result":{"id":"a","sections":', part, `,"mixGraph":${small}}}\n`]);
  });

  it('header: the body is encoded once, its bytes counted for Content-Length and sent as they are', async () => {
    const part = JSON.stringify({ s: 'é🎹'.repeat(5000) });
    const chunks: unknown[] = [];
    const output = new Writable({ decodeStrings: false, writev: (cs, cb) => (chunks.push(...cs.map((c) => c.chunk)), cb()) });
    const writer = new StreamMessageWriter(output, 'header');
    void writer.write({ jsonrpc: '2.0', id: 'x', result: new RawJson(['{"p":', part, '}']) } as never);
    void writer.write({ jsonrpc: '2.0', id: 2, result: 'plain' } as never);
    await writer.flush();
    // A header, then the body as bytes (no string of header and body together, no second encoding).
    const texts = chunks.filter((c) => c !== '');
    const bodies: string[] = [];
    for (let i = 0; i < texts.length; ) {
      const header = texts[i++];
      expect(header).to.be.a('string').and.match(/^Content-Length: \d+\r\n\r\n$/);
      const length = Number(/\d+/.exec(header as string)![0]);
      const body: Buffer[] = [];
      while (i < texts.length && Buffer.isBuffer(texts[i])) body.push(texts[i++] as Buffer);
      expect(Buffer.concat(body).length).to.equal(length);
      bodies.push(Buffer.concat(body).toString('utf8'));
    }
    expect(bodies).to.deep.equal([`{"jsonrpc":"2.0","id":"x","result":{"p":${part}}}`, '{"jsonrpc":"2.0","id":2,"result":"plain"}']);
  });

  it('an output that cannot be corked: each message is its own write, and the writer is blocked only while they are unwritten', async () => {
    const calls: number[] = [];
    const output = new Writable({ write: (c: Buffer, _enc, cb) => (calls.push(c.length), setImmediate(cb)) });
    (output as { cork?: unknown }).cork = undefined;
    const writer = new StreamMessageWriter(output, 'ndjson');
    for (let i = 0; i < 40; i++) {
      await writer.write({ jsonrpc: '2.0', id: i, result: 'x'.repeat(10_000) } as never);
      await writer.flush();
      expect(writer.blocked, `after ${i + 1} messages, all written`).to.equal(false);
    }
    expect(calls.filter((n) => n > 0)).to.have.length(40);
  });

  it('flush resolves on an ended output', async () => {
    const output = new PassThrough();
    output.resume();
    const writer = new StreamMessageWriter(output, 'ndjson');
    output.end();
    await writer.flush();
  });
});

describe('transport: detectFraming', () => {
  it('a first non-whitespace byte C means header framing, and nothing is lost', async () => {
    const input = new PassThrough();
    input.write(`  \r\n${frame('{"id":1}')}`);
    expect(await detectFraming(input)).to.equal('header');
    const reader = new HeaderMessageReader(input, 1000);
    const { events, closed } = record(reader);
    input.end(frame('{"id":2}'));
    await closed;
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'm:{"id":2}', 'close']);
  });

  it('a lower-case c also means header framing', async () => {
    const input = new PassThrough();
    input.write('content-length: 2\r\n\r\n{}');
    expect(await detectFraming(input)).to.equal('header');
  });

  it('{ or [ means ndjson, and the first message is put back for the reader', async () => {
    for (const first of ['{"id":1}\n', '[{"id":1}]\n']) {
      const input = new PassThrough();
      input.write(first);
      expect(await detectFraming(input)).to.equal('ndjson');
      const reader = new NdjsonMessageReader(input, 1000);
      const { events, closed } = record(reader);
      input.end('{"id":2}\n');
      await closed;
      expect(kinds(events)).to.deep.equal([`m:${first.trim()}`, 'm:{"id":2}', 'close']);
    }
  });

  it('leading whitespace in its own chunks is skipped until the first real byte arrives', async () => {
    const input = new PassThrough();
    const detected = detectFraming(input);
    input.write('\n');
    input.write('   \t');
    await tick();
    input.write('{"id":1}\n');
    expect(await detected).to.equal('ndjson');
    const reader = new NdjsonMessageReader(input, 1000);
    const { events, closed } = record(reader);
    input.end();
    await closed;
    expect(kinds(events)).to.deep.equal(['m:{"id":1}', 'close']);
  });

  it('resolves undefined when the input ends with nothing but whitespace', async () => {
    const input = new PassThrough();
    const detected = detectFraming(input);
    input.end(' \r\n\t ');
    expect(await detected).to.equal(undefined);
  });

  it('rejects when the input fails first', async () => {
    const input = new PassThrough();
    const detected = detectFraming(input);
    input.destroy(new Error('broken pipe'));
    let err: unknown;
    try {
      await detected;
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.equal('broken pipe');
  });
});

describe('server: reading stops while requests pile up behind a long one', () => {
  it('reads no further once the queue holds more than maxQueuedChars, and reads on as it empties', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handled: number[] = [];
    const any = (() => true) as Validator;
    const dispatcher = new Dispatcher([
      { name: 'slow', validate: any, handler: () => gate },
      { name: 'fast', validate: any, handler: (p: never) => void handled.push((p as { n: number }).n) },
    ]);
    const server = new Server({
      reader: new NdjsonMessageReader(input, 1 << 20),
      writer: new StreamMessageWriter(output, 'ndjson'),
      dispatcher,
      log: { warn: () => {}, error: () => {} },
      onInputEnd: () => {},
      onOutputError: () => {},
      maxQueuedChars: 10_000,
    });
    server.start();
    input.write('{"jsonrpc":"2.0","id":0,"method":"slow"}\n');
    await tick();
    const N = 2000; // ~100 KB of requests, ten times the bound
    for (let n = 1; n <= N; n++) input.write(`{"jsonrpc":"2.0","id":${n},"method":"fast","params":{"n":${n}}}\n`);
    for (let i = 0; i < 5; i++) await tick();
    expect(handled).to.deep.equal([]);
    // What was not read waits in the input (the pipe, for a real host), not in the sidecar's queue.
    expect(input.readableLength + input.writableLength, 'bytes left unread').to.be.above(50_000);
    release();
    while (handled.length < N) await tick();
    expect(handled).to.deep.equal(Array.from({ length: N }, (_, i) => i + 1));
    expect(input.readableLength).to.equal(0);
  });
});

describe('server and writer: answers of pipelined requests', () => {
  const any = (() => true) as Validator;
  const log = { warn: () => {}, error: () => {} };
  const requests = (n: number): string => Array.from({ length: n }, (_, i) => `{"jsonrpc":"2.0","id":${i},"method":"get"}\n`).join('');
  const idsIn = (chunks: { chunk: unknown }[]): number[] =>
    chunks.map(({ chunk }) => (JSON.parse(String(chunk)) as { id: number }).id);

  it('requests that arrive in one chunk are answered in one write, though the answers pass the output high-water mark', async () => {
    // 20 answers of 9 KB: 180 KB, eleven times stdout's 16 KiB high-water mark.
    const calls: number[][] = [];
    const output = new Writable({
      write: (chunk, _enc, cb) => (calls.push(idsIn([{ chunk }])), cb()),
      writev: (chunks, cb) => (calls.push(idsIn(chunks)), cb()),
    });
    const input = new PassThrough();
    const dispatcher = new Dispatcher([{ name: 'get', validate: any, handler: () => ({ text: 'x'.repeat(9000) }) }]);
    new Server({ reader: new NdjsonMessageReader(input, 1 << 20), writer: new StreamMessageWriter(output, 'ndjson'), dispatcher, log, onInputEnd: () => {}, onOutputError: () => {} }).start();
    input.write(requests(20));
    for (let i = 0; i < 20 && calls.flat().length < 20; i++) await tick();
    expect(calls, 'one write of the 20 answers, in order').to.deep.equal([Array.from({ length: 20 }, (_, i) => i)]);
  });

  it('while the output has not taken what was written, the server makes one more tick of answers, then waits; all are answered in order', async () => {
    // An output whose writes complete only when the test says: a host that does not read.
    const done: (() => void)[] = [];
    const out: number[] = [];
    const output = new Writable({
      highWaterMark: 1024,
      write: (chunk, _enc, cb) => (out.push(...idsIn([{ chunk }])), done.push(cb)),
      writev: (chunks, cb) => (out.push(...idsIn(chunks)), done.push(cb)),
    });
    let made = 0;
    const input = new PassThrough();
    const dispatcher = new Dispatcher([{ name: 'get', validate: any, handler: () => (made++, { text: 'x'.repeat(1000) }) }]);
    new Server({ reader: new NdjsonMessageReader(input, 1 << 20), writer: new StreamMessageWriter(output, 'ndjson'), dispatcher, log, onInputEnd: () => {}, onOutputError: () => {} }).start();
    input.write(requests(200));
    for (let i = 0; i < 10; i++) await tick();
    // A tick makes answers up to 16 high-water marks (16 KiB here); the next tick's are made while
    // those are on their way; then nothing more until the output takes them: at most 32 KiB.
    expect(made, 'answers made while nothing was taken').to.be.within(17, 34);
    for (let i = 0; i < 1000 && out.length < 200; i++) {
      done.splice(0).forEach((cb) => cb());
      await tick();
    }
    expect(out).to.deep.equal(Array.from({ length: 200 }, (_, i) => i));
  });
});
