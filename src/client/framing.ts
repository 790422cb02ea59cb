/**
 * The client's side of the two framings: bytes from the sidecar -> message texts, and a message
 * text -> bytes to the sidecar. Incremental and linear: a chunk is searched once (NDJSON: for
 * newlines; header: only the header block), the pieces of a message are joined once when it is
 * complete, however many chunks it came in, and a chunk holding several messages yields each.
 */
export type Framing = 'header' | 'ndjson';

/** A header block longer than this is not a header block. */
const MAX_HEADER_BYTES = 8 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

export class FramingError extends Error {
  override name = 'FramingError';
}

/** Text of one message: its bytes as UTF-8. */
export type MessageHandler = (text: string) => void;

export class MessageReader {
  readonly #framing: Framing;
  readonly #onMessage: MessageHandler;
  /** Pieces of the message being read (NDJSON: of the current line; header: of the body). */
  #parts: Buffer[] = [];
  #partBytes = 0;
  /** Header framing: the bytes of a header block split across chunks. */
  #head: Buffer = EMPTY;
  /** Header framing: the body's length once its header block is read, else -1. */
  #need = -1;

  constructor(framing: Framing, onMessage: MessageHandler) {
    this.#framing = framing;
    this.#onMessage = onMessage;
  }

  /** Feeds a chunk; calls the handler for every message it completes. Throws FramingError. */
  push(chunk: Buffer): void {
    if (this.#framing === 'ndjson') this.#pushLines(chunk);
    else this.#pushHeader(chunk);
  }

  /** The end of input: a last NDJSON line without its newline is a message; anything else left is an error. */
  end(): void {
    if (this.#framing === 'ndjson') {
      if (this.#partBytes > 0) this.#line(this.#take());
      return;
    }
    if (this.#need >= 0 || this.#head.length > 0) {
      throw new FramingError(`the stream ended inside a message (${this.#need >= 0 ? `${this.#partBytes} of ${this.#need} body bytes` : 'header block'})`);
    }
  }

  #take(): Buffer {
    const all = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#partBytes);
    this.#parts = [];
    this.#partBytes = 0;
    return all;
  }

  #pushLines(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        if (start < chunk.length) {
          this.#parts.push(chunk.subarray(start));
          this.#partBytes += chunk.length - start;
        }
        return;
      }
      let line = chunk.subarray(start, nl);
      if (this.#partBytes > 0) {
        this.#parts.push(line);
        this.#partBytes += line.length;
        line = this.#take();
      }
      start = nl + 1;
      this.#line(line);
    }
  }

  #line(line: Buffer): void {
    let end = line.length;
    if (end > 0 && line[end - 1] === 0x0d) end--;
    let i = 0;
    while (i < end && (line[i] === 0x20 || line[i] === 0x09)) i++;
    if (i === end) return; // a blank line
    this.#onMessage(line.toString('utf8', 0, end));
  }

  #pushHeader(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#need < 0) {
        // A header block: looked for in at most MAX_HEADER_BYTES of the chunk (a body follows it).
        const limit = Math.min(chunk.length, at + MAX_HEADER_BYTES);
        const window = this.#head.length > 0 ? Buffer.concat([this.#head, chunk.subarray(at, limit)]) : chunk.subarray(at, limit);
        const end = window.indexOf(HEADER_END);
        if (end === -1) {
          if (window.length >= MAX_HEADER_BYTES) throw new FramingError(`no header block end within ${MAX_HEADER_BYTES} bytes`);
          this.#head = Buffer.from(window);
          at = limit;
          continue;
        }
        const consumed = end + HEADER_END.length - this.#head.length;
        this.#need = contentLength(window.subarray(0, end).toString('latin1'));
        this.#head = EMPTY;
        at += consumed;
        if (this.#need === 0) this.#body(EMPTY);
        continue;
      }
      const take = Math.min(this.#need - this.#partBytes, chunk.length - at);
      this.#parts.push(chunk.subarray(at, at + take));
      this.#partBytes += take;
      at += take;
      if (this.#partBytes === this.#need) this.#body(this.#take());
    }
  }

  #body(body: Buffer): void {
    this.#need = -1;
    this.#onMessage(body.toString('utf8'));
  }
}

/** The Content-Length of a header block (LSP base protocol: other headers are ignored). */
function contentLength(block: string): number {
  let length: number | undefined;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon).trim();
    if (!/^[A-Za-z0-9-]+$/.test(name)) throw new FramingError(`not a header line: ${JSON.stringify(line.slice(0, 80))}`);
    if (name.toLowerCase() !== 'content-length') continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d{1,15}$/.test(value) || length !== undefined) throw new FramingError(`bad Content-Length header: ${JSON.stringify(line)}`);
    length = Number(value);
  }
  if (length === undefined) throw new FramingError('a header block without Content-Length');
  return length;
}

/**
 * The bytes that carry one message text. NDJSON: the text must be one line; JSON.stringify
 * never writes a raw newline, and in JSON text given by a host a CR or LF can only be white space
 * between tokens (a string holds none raw), so it is written as a space.
 */
export function frame(framing: Framing, json: string): string {
  if (framing === 'ndjson') return `${/[\r\n]/.test(json) ? json.replace(/[\r\n]/g, ' ') : json}\n`;
  return `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}
