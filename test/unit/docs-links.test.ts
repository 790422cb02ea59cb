/**
 * README.md and docs/*.md name only what the repository holds: every relative link resolves to a
 * file (and its #anchor to a heading of that file), every document named in code spans (`x.md`)
 * exists, every repository path in code spans (`src/…`, `test/…`, …) exists, and every method
 * named (in code spans, `call METHOD` commands and `"method":"…"` in examples) is one of
 * rpc-schema/methods/ or rpc-schema/notifications/.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Folders whose paths the docs name in code spans. */
const REPO_FOLDERS = ['src', 'test', 'bench', 'scripts', 'sql', 'docs', 'rpc-schema'];

/** Markdown without its fenced code blocks (their `#` lines are not headings, their text not links). */
const prose = (md: string): string => md.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2. */
export function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of prose(md).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** What in `md` (a file at `file`, inside `root`) names something that is not there. */
export function danglingIn(md: string, file: string, root: string): string[] {
  const problems: string[] = [];
  const here = dirname(file);
  const text = prose(md);
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [path, anchor] = target.split('#') as [string, string | undefined];
    if (path === '') {
      if (anchor !== undefined && !anchorsOf(md).has(anchor)) problems.push(`link to ${target}: no heading with that anchor`);
      continue;
    }
    const full = resolve(here, decodeURIComponent(path));
    if (!existsSync(full)) {
      problems.push(`link to ${target}: no such file`);
      continue;
    }
    if (anchor !== undefined && full.endsWith('.md') && !anchorsOf(readFileSync(full, 'utf8')).has(anchor)) {
      problems.push(`link to ${target}: no heading with that anchor`);
    }
  }
  // A code span that is the text of a link to another site names a file there, not here.
  const own = text.replace(/\[[^\]]*\]\([a-z][a-z0-9+.-]*:[^)]*\)/gi, '');
  for (const m of own.matchAll(/`([^`\s]+)`/g)) {
    const span = m[1]!.replace(/[.,;:]$/, '');
    if (/[<>*{}…]|NNNN|YYYY/.test(span)) continue; // a pattern, not a path
    const isDoc = /\.md$/.test(span);
    const isRepoPath = REPO_FOLDERS.some((f) => span.startsWith(`${f}/`));
    if (!isDoc && !isRepoPath) continue;
    const candidates = [resolve(here, span), resolve(root, span)];
    if (!candidates.some((c) => existsSync(c))) problems.push(`\`${span}\`: not in the repository`);
  }
  return problems;
}

const schemaNames = (dir: string): string[] =>
  readdirSync(join(ROOT, 'rpc-schema', dir)).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
/** Every method and notification of the contract. */
const METHODS = new Set([...schemaNames('methods'), ...schemaNames('notifications')]);
/** `preferences.<field>` names a preference, not a method. */
const PREFERENCE_FIELDS = new Set(
  Object.keys((JSON.parse(readFileSync(join(ROOT, 'rpc-schema', 'definitions', 'Preferences.json'), 'utf8')) as { properties: object }).properties),
);
const FAMILIES = [...new Set([...METHODS].map((m) => m.split('.')[0]!))].filter((f) => f !== '$');
/** A method-like name at the start of a code span: family, a dot, a verb not followed by more of a name or a call. */
const METHOD_IN_SPAN = new RegExp(`^(${FAMILIES.join('|')})\\.([A-Za-z]+)(?![A-Za-z0-9_(.])`);
/** What a verb is when the name is a file (`songs.json` in a zip, `backup.ts`). */
const FILE_EXTENSION = /^(json|ts|js|mjs|db|md|log|zip|sql)$/;

/** Method names in `md` that no schema defines. */
export function unknownMethodsIn(md: string, methods: ReadonlySet<string> = METHODS): string[] {
  const names: string[] = [];
  for (const m of prose(md).matchAll(/`([^`]+)`/g)) {
    const x = METHOD_IN_SPAN.exec(m[1]!);
    if (x && !FILE_EXTENSION.test(x[2]!) && !(x[1] === 'preferences' && PREFERENCE_FIELDS.has(x[2]!))) names.push(`${x[1]}.${x[2]}`);
  }
  // Commands and messages in examples, code blocks included.
  for (const m of md.matchAll(/\bcall\s+([a-z]+\.[A-Za-z]+)|"method"\s*:\s*"([^"]+)"/g)) names.push((m[1] ?? m[2])!);
  return [...new Set(names.filter((n) => !methods.has(n) && !n.startsWith('$/')))];
}

const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('docs name only what the repository holds', function () {
  for (const doc of DOCS) {
    it(`${doc}: every relative link, document and repository path resolves`, function () {
      const file = join(ROOT, doc);
      expect(danglingIn(readFileSync(file, 'utf8'), file, ROOT), relative(ROOT, file)).to.deep.equal([]);
    });
  }

  for (const doc of DOCS) {
    it(`${doc}: every method it names exists in rpc-schema/`, function () {
      expect(unknownMethodsIn(readFileSync(join(ROOT, doc), 'utf8')), doc).to.deep.equal([]);
    });
  }

  it('the method check can fail: a method no schema defines, in a span, a command and a message', function () {
    const md = [
      'Call `songs.get` and `songs.fetch {id}`; `songs.json` is a file, `preferences.autoSaveInterval` a field.',
      '```sh',
      "whiteroom-store call backup.make '{}'",
      'echo \'{"jsonrpc":"2.0","id":1,"method":"system.pong"}\'',
      '```',
    ].join('\n');
    expect(unknownMethodsIn(md)).to.deep.equal(['songs.fetch', 'backup.make', 'system.pong']);
  });

  it('the check can fail: a missing file, a missing anchor, a document and a path that are not there', function () {
    const file = join(ROOT, 'docs', 'example.md');
    const md = [
      '# Title',
      '',
      '[ok](protocol.md#transport) [same page](#title) [web](https://example.com/x.md) [`elsewhere/README.md`](https://example.com/r)',
      '[gone](missing.md) [bad anchor](protocol.md#no-such-heading) [bad local](#nowhere)',
      'See `shared/design/PROTOCOL.md`, `src/no-such-file.ts`, `src/main.ts`, `sql/NNNN_name.sql`.',
      '```sh',
      '[not a link](inside-a-code-block.md)',
      '```',
    ].join('\n');
    expect(danglingIn(md, file, ROOT)).to.deep.equal([
      'link to missing.md: no such file',
      'link to protocol.md#no-such-heading: no heading with that anchor',
      'link to #nowhere: no heading with that anchor',
      '`shared/design/PROTOCOL.md`: not in the repository',
      '`src/no-such-file.ts`: not in the repository',
    ]);
  });

  it('anchors follow GitHub: punctuation dropped, spaces as hyphens, repeats numbered', function () {
    expect([...anchorsOf("# A b\n## songs.get\n### SQLite's own tables\n## A b\n```\n# not\n```")]).to.deep.equal([
      'a-b',
      'songsget',
      'sqlites-own-tables',
      'a-b-1',
    ]);
  });
});
