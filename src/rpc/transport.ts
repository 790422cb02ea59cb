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
import { ErrorCode, RpcError } from '../errors.js';
import { rememberText } from './raw-text.js';
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

  protected abstract onBytes(chunk: Buffer): void;
  protected abstract onEnd(): void;

  /** Parses one message body and hands it on, or reports it unparseable. */
  protected deliver(body: Buffer): void {
    let message: unknown;
    const text = body.toString('utf8');
    try {
      message = JSON.parse(text);
    } catch (err) {
      this.fireError(new FramingError('parse', `not JSON: ${(err as Error).message}`));
      return;
    }
    rememberText(message, text);
    this.callback(message as Message);
  }

  protected tooLarge(bytes: number): void {
    this.fireError(
      new FramingError('too-large', `message of ${bytes} bytes or more exceeds the limit of ${this.maxBytes} bytes`, bytes),
    );
  }
}

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
    this.deliver(line);
  }

  protected onEnd(): void {
    // A last line without a trailing newline is still a message.
    this.#endLine();
  }
}

/** LSP base protocol framing: `Content-Length: N\r\n` headers, a blank line, N bytes of JSON. */
export class HeaderMessageReader extends StreamReader {
  /** Bytes of the header block read so far (small: at most MAX_HEADER_BYTES). */
  #head: Buffer = Buffer.alloc(0);
  /** Length of the body being read; -1 while reading headers. */
  #bodyLength = -1;
  /** Chunks of the body so far, joined once when complete (no quadratic copying). */
  #body: Buffer[] = [];
  #bodyGot = 0;
  /** Bytes of an oversized body still to drop. */
  #skip = 0;

  protected onBytes(chunk: Buffer): void {
    while (chunk.length > 0) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length);
        this.#skip -= n;
        chunk = chunk.subarray(n);
        continue;
      }
      if (this.#bodyLength === -1) {
        const head = this.#head.length ? Buffer.concat([this.#head, chunk]) : chunk;
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) {
          this.#head = head;
          if (head.length > MAX_HEADER_BYTES) {
            this.fireError(new FramingError('parse', `no end of headers within ${MAX_HEADER_BYTES} bytes`));
            this.#head = Buffer.alloc(0);
          }
          return;
        }
        this.#head = Buffer.alloc(0);
        chunk = head.subarray(end + 4);
        const length = contentLength(head.subarray(0, end).toString('ascii'));
        if (length === undefined) {
          this.fireError(new FramingError('parse', 'header block without a valid Content-Length'));
        } else if (length > this.maxBytes) {
          this.tooLarge(length);
          this.#skip = length;
        } else if (length === 0) {
          this.deliver(Buffer.alloc(0));
        } else {
          this.#bodyLength = length;
        }
        continue;
      }
      const take = chunk.subarray(0, this.#bodyLength - this.#bodyGot);
      chunk = chunk.subarray(take.length);
      this.#body.push(take);
      this.#bodyGot += take.length;
      if (this.#bodyGot === this.#bodyLength) {
        const body = this.#body.length === 1 ? this.#body[0]! : Buffer.concat(this.#body);
        this.#body = [];
        this.#bodyGot = 0;
        this.#bodyLength = -1;
        this.deliver(body);
      }
    }
  }

  protected onEnd(): void {
    if (this.#bodyLength !== -1 || this.#skip > 0 || !isBlank(this.#head)) {
      this.fireError(new FramingError('parse', 'input ended inside a message'));
    }
  }
}

function contentLength(headers: string): number | undefined {
  for (const line of headers.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
    const value = line.slice(colon + 1).trim();
    return /^\d{1,15}$/.test(value) ? Number(value) : undefined;
  }
  return undefined;
}

function isBlank(buf: Buffer): boolean {
  for (const b of buf) if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a) return false;
  return true;
}

/** Writes messages to a stream in one framing. Writes are ordered and never interleave. */
export class StreamMessageWriter extends AbstractMessageWriter implements MessageWriter {
  readonly #output: NodeJS.WritableStream;
  readonly #framing: Framing;

  constructor(output: NodeJS.WritableStream, framing: Framing) {
    super();
    this.#output = output;
    this.#framing = framing;
    output.on('error', (err: Error) => this.fireError(err));
  }

  /** Queues the message for writing (synchronously, in call order). */
  write(msg: Message | Message[]): Promise<void> {
    const json = serialize(msg);
    this.#output.write(this.#framing === 'ndjson' ? `${json}\n` : `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
    return Promise.resolve();
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
 * The JSON text of a message. An answer too large to be one string (V8 caps a string at about
 * 512 MiB: a songs.list of hundreds of 1 MB songs) becomes an error answer to the same request,
 * -32600 saying to ask for less, instead of an exception that would end the process.
 */
export function serialize(msg: unknown): string {
  try {
    return JSON.stringify(msg);
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
