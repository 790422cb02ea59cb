/**
 * The params of `call` and `inspect` as typed: a JSON text, `@FILE` (the text of FILE) or `-`
 * (the text of stdin). The text itself is what the dispatcher gets (src/main.ts `call`), so every
 * number of a structured part stays as written. A file that cannot be read, or a text that is not
 * JSON, is a usage error: one line on stderr, exit status 2.
 */
import { readFileSync } from 'node:fs';
import { EXIT_USAGE } from './options.js';

/** The params text the argument names; on failure, one line on stderr and exit 2. */
export function paramsText(arg: string | undefined): string | undefined {
  if (arg === undefined) return undefined;
  let text = arg;
  let source = 'the params';
  if (arg === '-' || arg.startsWith('@')) {
    const file = arg === '-' ? undefined : arg.slice(1);
    source = file === undefined ? 'the params read from stdin' : `the params in ${file}`;
    if (file === '') usage('@ must be followed by a file name: call METHOD @params.json');
    try {
      text = readFileSync(file ?? 0, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a folder' : e.code === 'EACCES' ? 'permission denied' : e.message;
      usage(`cannot read ${file === undefined ? 'the params from stdin' : `the params file ${file}`}: ${why}`);
    }
    // A byte order mark is not JSON; editors on Windows write one.
    if (text.startsWith('\uFEFF')) text = text.slice(1);
  }
  try {
    JSON.parse(text);
  } catch (err) {
    usage(`${source} are not JSON: ${(err as Error).message}`);
  }
  return text;
}

function usage(line: string): never {
  process.stderr.write(`whiteroom-store: ${line}\n`);
  process.exit(EXIT_USAGE);
}
