/**
 * Framing: bytes <-> JSON-RPC messages, in the two framings of the contract.
 *
 * - `header`: LSP base protocol, `Content-Length: N\r\n\r\n` + N bytes of JSON (the Swift host).
 * - `ndjson`: one JSON message per line (test harnesses, people typing by hand).
 *
 * Readers and writers implement vscode-jsonrpc's MessageReader / MessageWriter, so either can
 * drive a vscode-jsonrpc connection too; a new framing is a new reader, nothing else changes.
 * They are our own rather than vscode-jsonrpc's StreamMessageReader because the contract needs
 * three things that reader does not do: refuse an oversized message from its header without
 * buffering it, report unparseable input as an event in stream order (so it can be answered
 * -32700 in place), and deliver every message before the end-of-input event (its reader decodes
 * through a setImmediate-scheduled queue, so EOF could overtake the last message of a pipe).
 *
 * Readers deliver whatever JSON arrives (objects, batches, scalars); deciding what is a valid
 * request is the dispatcher's job.
 */
import { isUtf8 } from 'node:buffer';
import { ErrorCode, RpcError } from '../errors.js';
import { rememberText, responsePieces, stringifyAnswer, textsAt } from '../json-text.js';
import {
  AbstractMessageReader,
  AbstractMessageWriter,
  Disposable,
  type DataCallback,
  type Message,
  type MessageWriter,
} from 'vscode-jsonrpc/node';

export type Framing = 'header' | 'ndjson';

/** Default limit of one message: 64 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** A header block longer than this is not a header block. */
const MAX_HEADER_BYTES = 8 * 1024;
const EMPTY = Buffer.alloc(0);

/** A framing-level failure, raised through the reader's onError in stream order. */
export class FramingError extends Error {
  readonly kind: 'parse' | 'too-large';
  readonly bytes: number;
  constructor(kind: 'parse' | 'too-large', message: string, bytes = 0) {
    super(message);
    this.name = 'FramingError';
    this.kind = kind;
    this.bytes = bytes;
  }
}

/**
 * Detects the framing from the first non-whitespace byte the host sends (`C`: header, anything
 * else: ndjson), and puts back what it read. Resolves undefined when the input ends first.
 */
export function detectFraming(input: NodeJS.ReadableStream & { unshift(chunk: Buffer): void }): Promise<Framing | undefined> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      let i = 0;
      while (i < chunk.length && (chunk[i] === 0x20 || chunk[i] === 0x09 || chunk[i] === 0x0a || chunk[i] === 0x0d)) i++;
      if (i === chunk.length) return; // only whitespace so far: drop it and keep looking
      cleanup();
      input.pause();
      input.unshift(chunk.subarray(i));
      resolve(chunk[i] === 0x43 || chunk[i] === 0x63 ? 'header' : 'ndjson');
    };
    const onEnd = (): void => {
      cleanup();
      resolve(undefined);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
  });
}

/** Reading bytes from a stream and delivering messages synchronously, in order, before close. */
abstract class StreamReader extends AbstractMessageReader {
  protected callback: DataCallback = () => {};
  readonly #input: NodeJS.ReadableStream;
  protected readonly maxBytes: number;

  constructor(input: NodeJS.ReadableStream, maxBytes: number) {
    super();
    this.#input = input;
    this.maxBytes = maxBytes;
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (chunk: Buffer): void => this.onBytes(chunk);
    const onEnd = (): void => {
      this.onEnd();
      this.fireClose();
    };
    const onError = (err: Error): void => this.fireError(err);
    this.#input.on('data', onData);
    this.#input.on('end', onEnd);
    this.#input.on('error', onError);
    this.#input.resume();
    return Disposable.create(() => {
      this.#input.off('data', onData);
      this.#input.off('end', onEnd);
      this.#input.off('error', onError);
    });
  }

  /**
   * Stops reading input (backpressure): no more chunks are taken from the stream, so the host's
   * writes block once the pipe is full. A chunk already taken is still read to its end.
   */
  pause(): void {
    this.#input.pause();
  }

  /** Reads input again after pause(). */
  resume(): void {
    this.#input.resume();
  }

  protected abstract onBytes(chunk: Buffer): void;
  protected abstract onEnd(): void;

  /** Parses one message body and hands it on, or reports it unparseable. */
  protected deliver(body: Buffer): void {
    // JSON text is UTF-8 (RFC 8259); decoding invalid bytes would store U+FFFD in their place.
    if (!isUtf8(body)) {
      this.fireError(new FramingError('parse', 'not valid UTF-8: JSON text must be UTF-8; nothing of this message was read'));
      return;
    }
    let message: unknown;
    const text = body.toString('utf8');
    try {
      message = JSON.parse(text);
    } catch (err) {
      this.fireError(new FramingError('parse', `not JSON: ${(err as Error).message}`));
      return;
    }
    rememberText(message, text);
    if (Array.isArray(message)) {
      // A batch: each request keeps its own text (the parts a request stores are found in it).
      // One nested too deep keeps none: the server refuses it before any handler runs.
      try {
        const texts = textsAt(text, message.map((_, i) => `/${i}`));
        message.forEach((m, i) => {
          const t = texts.get(`/${i}`);
          if (t !== undefined) rememberText(m, t);
        });
      } catch {
        /* see above */
      }
    }
    this.callback(message as Message);
  }

  protected tooLarge(bytes: number): void {
    this.fireError(
      new FramingError('too-large', `message of ${bytes} bytes or more exceeds the limit of ${this.maxBytes} bytes`, bytes),
    );
  }
}

const CONTENT_LENGTH_LINE = /^\s*content-length/i;

/** Newline-delimited JSON: one message per line; blank lines are ignored. */
export class NdjsonMessageReader extends StreamReader {
  #parts: Buffer[] = [];
  #size = 0;
  /** Inside a line that was already reported too large: drop bytes until its end. */
  #skipping = false;

  protected onBytes(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.#skipping) {
        const piece = chunk.subarray(start, end);
        if (this.#size + piece.length > this.maxBytes) {
          this.tooLarge(this.#size + piece.length);
          this.#skipping = true;
          this.#parts = [];
        } else if (piece.length > 0) {
          this.#parts.push(piece);
        }
        this.#size += piece.length;
      }
      if (nl === -1) return;
      this.#endLine();
      start = nl + 1;
    }
  }

  #endLine(): void {
    const parts = this.#parts;
    const skipped = this.#skipping;
    this.#parts = [];
    this.#size = 0;
    this.#skipping = false;
    if (skipped || parts.length === 0) return;
    const line = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (isBlank(line)) return;
    if (CONTENT_LENGTH_LINE.test(line.toString('latin1', 0, 16))) {
      this.fireError(
        new FramingError(
          'parse',
          'a Content-Length header in an NDJSON stream: this stream uses one JSON message per line (detected from its first byte); ' +
            'start with Content-Length to use header framing, or pass --framing header',
        ),
      );
      return;
    }
    this.deliver(line);
  }

  protected onEnd(): void {
    // A last line without a trailing newline is still a message.
    this.#endLine();
  }
}

/**
 * A `Content-Length` header line, wherever it starts. It cannot occur inside valid JSON: its
 * letters would have to lie inside a string, and a JSON string holds no raw CR or LF (nor a
 * quote before it ends). So after a message that cannot be read by its length (oversized, or a
 * header block without one valid Content-Length) the reader drops bytes up to the next match and
 * reads a header block from there: the stream resynchronises at the next message.
 */
const HEADER_LINE = /content-length:[^"\r\n]{0,200}\r\n/i;
/** Bytes kept between chunks while resynchronising: longer than any HEADER_LINE match. */
const RESYNC_CARRY_BYTES = 256;
/** A header line (RFC 9110 field name, a colon, a value), and a prefix of one. */
const HEADER_FIELD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n]*$/;
const HEADER_FIELD_START = /^[!#$%&'*+.^_`|~0-9A-Za-z-]*(:[^\r\n]*)?\r?$/;

/**
 * LSP base protocol framing: `Content-Length: N\r\n` headers, a blank line, N bytes of JSON.
 *
 * Bytes that are not a header block where one should start (an NDJSON line sent to a
 * header-framed stream, garbage) are answered one parse error per line, as soon as they are
 * seen, and dropped up to the end of that line or the next Content-Length header line.
 * A header block whose body cannot be read by its length (no Content-Length, several, one that is
 * not a decimal number, one over the limit) is answered one error, and its body dropped up to
 * the next Content-Length header line (HEADER_LINE), which cannot occur inside JSON.
 */
export class HeaderMessageReader extends StreamReader {
  #state: 'head' | 'body' | 'skip' | 'junk' = 'head';
  /** Unconsumed bytes: a header block so far (at most MAX_HEADER_BYTES), or the carry of a resync. */
  #pending: Buffer = EMPTY;
  /** Length of the body being read. */
  #bodyLength = 0;
  /** Chunks of the body so far, joined once when complete (no quadratic copying). */
  #body: Buffer[] = [];
  #bodyGot = 0;

  protected onBytes(chunk: Buffer): void {
    let buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = EMPTY;
    while (buf.length > 0) {
      const rest = this.#state === 'body' ? this.#readBody(buf) : this.#state === 'head' ? this.#readHead(buf) : this.#resync(buf);
      if (rest === undefined) return;
      buf = rest;
    }
  }

  #readBody(buf: Buffer): Buffer {
    const take = buf.subarray(0, this.#bodyLength - this.#bodyGot);
    this.#body.push(take);
    this.#bodyGot += take.length;
    if (this.#bodyGot === this.#bodyLength) {
      const body = this.#body.length === 1 ? this.#body[0]! : Buffer.concat(this.#body);
      this.#body = [];
      this.#bodyGot = 0;
      this.#state = 'head';
      this.deliver(body);
    }
    return buf.subarray(take.length);
  }

  /**
   * Drops bytes up to the next Content-Length header line (for junk, also up to the end of its
   * line). Answers the bytes from there on, or undefined when it needs more input.
   */
  #resync(buf: Buffer): Buffer | undefined {
    const match = HEADER_LINE.exec(buf.toString('latin1'));
    let at = match ? match.index : -1;
    if (this.#state === 'junk') {
      const nl = buf.indexOf(0x0a);
      if (nl !== -1 && (at === -1 || nl < at)) at = nl + 1;
    }
    if (at === -1) {
      // Keep a tail that may hold the start of a header line split across chunks (a copy, so the
      // chunk itself is not retained).
      this.#pending = Buffer.from(buf.subarray(Math.max(0, buf.length - RESYNC_CARRY_BYTES)));
      return undefined;
    }
    this.#state = 'head';
    return buf.subarray(at);
  }

  /** Reads a header block; answers the bytes after it, or undefined when it needs more input. */
  #readHead(buf: Buffer): Buffer | undefined {
    let start = 0;
    while (start < buf.length && isSpace(buf[start]!)) start++; // whitespace between messages
    buf = buf.subarray(start);
    if (buf.length === 0) return undefined;
    // Only the header block is decoded (the buffer may hold many pipelined messages after it).
    const found = buf.indexOf('\r\n\r\n');
    const end = found !== -1 && found <= MAX_HEADER_BYTES ? found : -1;
    const text = buf.toString('latin1', 0, end !== -1 ? end : Math.min(buf.length, MAX_HEADER_BYTES + 4));
    const lines = text.split('\r\n');
    // Junk is answered as soon as it is seen: a host that sent an NDJSON line waits for an answer.
    let offset = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const complete = end !== -1 || i < lines.length - 1;
      if (!(complete ? HEADER_FIELD : HEADER_FIELD_START).test(line)) {
        this.fireError(new FramingError('parse', notAHeader(line)));
        this.#state = 'junk';
        return buf.subarray(offset);
      }
      offset += line.length + 2;
    }
    if (end === -1) {
      if (buf.length > MAX_HEADER_BYTES) {
        this.fireError(new FramingError('parse', `no end of the header block (a blank line) within ${MAX_HEADER_BYTES} bytes`));
        this.#state = 'skip';
        return buf.subarray(1); // resynchronise after this block's first byte
      }
      this.#pending = Buffer.from(buf);
      return undefined;
    }
    const rest = buf.subarray(end + 4);
    const values = contentLengths(lines);
    const length = values.length === 1 && /^\d+$/.test(values[0]!) ? Number(values[0]) : undefined;
    this.#state = 'skip';
    if (values.length === 0) {
      this.fireError(new FramingError('parse', 'a header block without Content-Length; its body is skipped'));
    } else if (values.length > 1) {
      const list = values.map((v) => JSON.stringify(v)).join(', ');
      this.fireError(new FramingError('parse', `a header block with ${values.length} Content-Length headers (${list}); send exactly one; its body is skipped`));
    } else if (length === undefined) {
      this.fireError(new FramingError('parse', `Content-Length must be a decimal number of bytes, got ${JSON.stringify(values[0])}; its body is skipped`));
    } else if (length > this.maxBytes) {
      this.tooLarge(length);
    } else if (length === 0) {
      this.#state = 'head';
      this.deliver(EMPTY);
    } else {
      this.#state = 'body';
      this.#bodyLength = length;
    }
    return rest;
  }

  protected onEnd(): void {
    // A message skipped or junk dropped was answered when it was seen.
    if (this.#state === 'body' || (this.#state === 'head' && !isBlank(this.#pending))) {
      this.fireError(new FramingError('parse', 'input ended inside a message'));
    }
  }
}

/** The values of the Content-Length headers among header lines (name case-insensitive). */
function contentLengths(lines: readonly string[]): string[] {
  const values: string[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (line.slice(0, colon).toLowerCase() === 'content-length') values.push(line.slice(colon + 1).trim());
  }
  return values;
}

const isSpace = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;

/** What to tell a host whose bytes are not a header block. */
function notAHeader(line: string): string {
  const shown = line.length > 40 ? `${line.slice(0, 40)}...` : line;
  const hint = /^\s*[[{]/.test(line)
    ? 'this stream uses Content-Length framing (detected from its first byte): send Content-Length: N, a blank line, then N bytes of JSON'
    : 'expected a header line such as "Content-Length: 42" ending in CR LF';
  return `not a header block: ${JSON.stringify(shown)}; ${hint}; the bytes up to the end of the line are skipped`;
}

function isBlank(buf: Buffer): boolean {
  for (const b of buf) if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a) return false;
  return true;
}

/**
 * How much one tick's messages may add up to before the writer says it is blocked, in high-water
 * marks of the output (16 KiB for stdout: 256 KiB); twice that may wait for the operating system.
 */
const TICK_MARKS = 16;

/**
 * Writes messages to a stream in one framing. Writes are ordered and never interleave.
 *
 * The messages written in one tick (the answers of pipelined requests) go to the stream in one
 * write: it is corked until the next tick. `blocked` tells the server to stop taking work: when a
 * tick's messages pass TICK_MARKS high-water marks (they go out, and the server goes on in the
 * next tick), or when more than twice that has not been taken by the operating system (the host
 * is not reading, or reads slower than the server answers); the server then waits for `onDrain`.
 * While one tick's messages are on their way, the next tick's are made: the host has answers to
 * read while the server makes more.
 */
export class StreamMessageWriter extends AbstractMessageWriter implements MessageWriter {
  readonly #output: NodeJS.WritableStream & Partial<Pick<import('node:stream').Writable, 'cork' | 'uncork' | 'writableHighWaterMark'>>;
  readonly #framing: Framing;
  #blocked = false;
  #corked = false;
  /** Characters written in this tick. */
  #tick = 0;
  /** Characters handed to the output whose write has not completed. */
  #unwritten = 0;
  /** The most characters one tick writes before the writer is blocked. */
  readonly #tickLimit: number;
  readonly #drainListeners: (() => void)[] = [];

  constructor(output: NodeJS.WritableStream, framing: Framing) {
    super();
    this.#output = output;
    this.#framing = framing;
    this.#tickLimit = TICK_MARKS * (this.#output.writableHighWaterMark ?? 16 * 1024);
    output.on('error', (err: Error) => this.fireError(err));
  }

  /** True while the server should not make more answers: see the class comment. */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** Calls `listener` each time the writer stops being blocked. */
  onDrain(listener: () => void): void {
    this.#drainListeners.push(listener);
  }

  /**
   * Queues the message for writing (synchronously, in call order). Its text goes to the stream as
   * the pieces it was made of (a record's stored parts are never copied into one longer string);
   * with header framing, as bytes encoded once, whose count is the Content-Length.
   */
  write(msg: Message | Message[]): Promise<void> {
    const pieces = coalesce(responsePieces(msg) ?? [serialize(msg)]);
    const out = this.#output;
    if (!this.#corked && out.cork && out.uncork) {
      // One write(2) for the messages of a tick (pipelined requests), instead of one each.
      out.cork();
      this.#corked = true;
      process.nextTick(() => this.#endTick());
    }
    let chunks: (string | Buffer)[];
    let n = 0;
    if (this.#framing === 'ndjson') {
      pieces[pieces.length - 1] += '\n';
      for (const p of pieces) n += p.length;
      chunks = pieces;
    } else {
      const body = pieces.map((p) => Buffer.from(p, 'utf8'));
      for (const b of body) n += b.length;
      chunks = [`Content-Length: ${n}\r\n\r\n`, ...body];
    }
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) out.write(chunks[i]!);
    out.write(chunks[last]!, () => {
      this.#unwritten -= n;
      this.#check();
    });
    if (this.#corked) this.#tick += n;
    this.#unwritten += n;
    this.#check();
    return Promise.resolve();
  }

  /** The tick is over: its messages go to the stream. */
  #endTick(): void {
    this.#corked = false;
    this.#tick = 0;
    this.#output.uncork!();
    this.#check();
  }

  #check(): void {
    const blocked = this.#tick > this.#tickLimit || this.#unwritten > 2 * this.#tickLimit;
    if (blocked === this.#blocked) return;
    this.#blocked = blocked;
    if (!blocked) for (const l of this.#drainListeners) l();
  }

  /** Resolves when everything written so far has been handed to the operating system. */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#output.writable) return resolve();
      this.#output.write('', () => resolve());
    });
  }

  end(): void {}
}

/**
 * A piece of an answer at least this long goes to the stream on its own: joining it to the rest
 * would copy it into a new string (for one this long, a large-object allocation).
 */
const PIECE_ALONE_CHARS = 64 * 1024;

/** The pieces of an answer with the short ones next to each other joined: fewer, larger chunks. */
function coalesce(pieces: string[]): string[] {
  if (pieces.length === 1) return pieces;
  const out: string[] = [];
  let run = '';
  for (const p of pieces) {
    if (p.length < PIECE_ALONE_CHARS) {
      run += p;
      continue;
    }
    if (run) out.push(run);
    out.push(p);
    run = '';
  }
  if (run) out.push(run);
  return out;
}

/**
 * The JSON text of a message. An answer too large to be one string (V8 caps a string at about
 * 512 MiB: a songs.list of hundreds of 1 MB songs) becomes an error answer to the same request,
 * -32600 saying to ask for less, instead of an exception that would end the process.
 */
export function serialize(msg: unknown): string {
  try {
    return stringifyAnswer(msg);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    if (Array.isArray(msg)) {
      // A batch: each answer on its own, and all of them as errors if even that is too long.
      try {
        return `[${msg.map(serialize).join(',')}]`;
      } catch (again) {
        if (!(again instanceof RangeError)) throw again;
        return JSON.stringify(msg.map((m) => tooLarge(m)));
      }
    }
    return JSON.stringify(tooLarge(msg));
  }
}

function tooLarge(msg: unknown): object {
  const id = typeof msg === 'object' && msg !== null && 'id' in msg ? (msg as { id: unknown }).id : null;
  const error = new RpcError(
    ErrorCode.InvalidRequest,
    'Invalid request: the answer is too large to send as one message (its JSON would pass the 512 MiB a string can hold); ' +
      'ask for fewer records at a time (a smaller limit), or use export.songs',
  );
  return { jsonrpc: '2.0', id, error: error.toJSON() };
}
