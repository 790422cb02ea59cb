/**
 * The client's reader (src/client/framing.ts) and top-level member scanner (src/client/scan.ts):
 * any split of a stream into chunks yields the same messages, several messages in a chunk are all
 * read, a big message in many chunks is joined once (linear time), and the scanner's spans are
 * the members JSON.parse sees.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { frame, FramingError, MessageReader, type Framing } from '../../src/client/framing.js';
import { topLevelMembers } from '../../src/client/scan.js';

/** Reads `bytes` cut at `cuts` (sorted offsets); answers the message texts. */
function readIn(framing: Framing, bytes: Buffer, cuts: number[]): string[] {
  const out: string[] = [];
  const r = new MessageReader(framing, (t) => out.push(t));
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    r.push(bytes.subarray(at, c));
    at = c;
  }
  r.end();
  return out;
}

const messageArb = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ jsonrpc: '2.0', id: 1, result: v }));

describe('client framing reader', function () {
  for (const framing of ['ndjson', 'header'] as Framing[]) {
    it(`${framing}: any split of any messages yields each message, in order`, () => {
      fc.assert(
        fc.property(fc.array(messageArb, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, rawCuts) => {
          const bytes = Buffer.from(messages.map((m) => frame(framing, m)).join(''));
          const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          expect(readIn(framing, bytes, cuts)).to.deep.equal(messages);
        }),
        { numRuns: 300 },
      );
    });

    it(`${framing}: byte by byte, multi-byte characters split across chunks`, () => {
      const messages = ['{"a":"ø♪𝄞"}', '{"b":["é",1]}', '{}'];
      const bytes = Buffer.from(messages.map((m) => frame(framing, m)).join(''));
      expect(readIn(framing, bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1))).to.deep.equal(messages);
      expect(readIn(framing, bytes, [])).to.deep.equal(messages);
    });

    it(`${framing}: a 64 MB message in 64 KiB chunks is joined once (linear, not quadratic)`, function () {
      this.timeout(30000);
      // Counted, not timed: every byte Buffer.concat copies while the reader reads. Joining each
      // chunk to what came before would copy 1,024 chunks x 32 MB on average, 32 GB.
      const text = `{"result":"${'x'.repeat(64 << 20)}"}`;
      const bytes = Buffer.from(frame(framing, text));
      let got = 0;
      const r = new MessageReader(framing, (t) => (got = t.length));
      const concat = Buffer.concat;
      let copied = 0;
      Buffer.concat = ((list: readonly Uint8Array[], length?: number): Buffer => {
        const out = concat(list, length);
        copied += out.length;
        return out;
      }) as typeof Buffer.concat;
      try {
        for (let at = 0; at < bytes.length; at += 65536) r.push(bytes.subarray(at, at + 65536));
      } finally {
        Buffer.concat = concat;
      }
      expect(got).to.equal(text.length);
      expect(copied, `${copied} bytes copied for a ${bytes.length}-byte message`).to.be.at.most(bytes.length);
    });
  }

  it('ndjson: CRLF, blank lines and a last line without its newline', () => {
    expect(readIn('ndjson', Buffer.from('\n{"a":1}\r\n\r\n  \n{"b":2}'), [3])).to.deep.equal(['{"a":1}', '{"b":2}']);
  });

  it('header: other headers are ignored, a missing or doubled Content-Length is an error, and so is a truncated body', () => {
    const ok = Buffer.from('Content-Type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: 2\r\n\r\n{}');
    expect(readIn('header', ok, [10])).to.deep.equal(['{}']);
    expect(() => readIn('header', Buffer.from('Content-Type: x\r\n\r\n{}'), [])).to.throw(FramingError, /without Content-Length/);
    expect(() => readIn('header', Buffer.from('Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}'), [])).to.throw(FramingError);
    expect(() => readIn('header', Buffer.from('{"jsonrpc":"2.0"}\r\n\r\n'), [])).to.throw(FramingError, /not a header line/);
    expect(() => readIn('header', Buffer.from('Content-Length: 10\r\n\r\n{}'), [])).to.throw(FramingError, /ended inside a message/);
  });

  it('frame: an NDJSON message is one line whatever white space its text holds', () => {
    expect(frame('ndjson', '{"a":\n1,\r\n"b":"x"}')).to.equal('{"a": 1,  "b":"x"}\n');
    expect(frame('header', '{"é":1}')).to.equal('Content-Length: 8\r\n\r\n{"é":1}');
  });
});

describe('client top-level member scanner', function () {
  it('its spans are the members JSON.parse reads, for any object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 })), fc.boolean(), (obj, spaced) => {
        const text = spaced ? JSON.stringify(obj, null, 2) : JSON.stringify(obj);
        const members = topLevelMembers(text);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect([...members.keys()].sort()).to.deep.equal(Object.keys(parsed).sort());
        for (const [k, [start, end]] of members) expect(JSON.parse(text.slice(start, end)), k).to.deep.equal(parsed[k]);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a value as its text: numbers beyond doubles, escapes and brackets inside strings', () => {
    const text = ' { "jsonrpc" : "2.0", "id":7,"result":{"n":12345678901234567890,"s":"a\\"}]\\\\","t":[1e400,-0]} } ';
    const m = topLevelMembers(text);
    const span = (k: string): string => text.slice(...m.get(k)!);
    expect(span('id')).to.equal('7');
    expect(span('result')).to.equal('{"n":12345678901234567890,"s":"a\\"}]\\\\","t":[1e400,-0]}');
    expect(topLevelMembers('{"k\\u0065y":1}').has('key')).to.equal(true);
    expect(() => topLevelMembers('[1]')).to.throw(SyntaxError);
    expect(() => topLevelMembers('{"a":"open')).to.throw(SyntaxError);
  });
});
