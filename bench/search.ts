/**
 * songs.search as the library grows: 1,000, 10,000, 100,000 and 1,000,000 songs (QUICK: up to 50,000;
 * 100,000), one file grown from size to size. At each size the sidecar answers songs.search (first
 * page, limit 50, from request to parsed answer, in both views: `summary`, what a library
 * browser's result list asks for, and `full`) and, on the same file, in the same run, alternating
 * with it, the bench runs the persistence plan's query in-process
 * (`SELECT * FROM songs WHERE name LIKE ? OR tags LIKE ? OR composer LIKE ?` with `%q%`: no
 * transport, so the baseline is favoured), for:
 *   rare      a word of a few song names
 *   medium    a word in about 1% of the songs
 *   common    a word in about 10%
 *   two words two common title words
 *   filtered  genre + tag, no query words (the baseline: the plan's query with `%%` AND genre LIKE
 *             AND tags LIKE)
 * Goals on the speed-up over the baseline: 50x at 100,000 songs, 300x at 1,000,000. Also, as
 * figures without the goal: a filtered query with a word, a one-letter query (what
 * search-as-you-type sends first), songs.list {limit: 50} (answering 50 records without a search:
 * the floor under every figure), and the common word ranked by BM25 over every match (what
 * songs.search did before it ordered many matches by tier; SQL in-process). A goal missed is
 * printed with what it needed and what the floor was. The same searches are also timed in the
 * store alone (the Repository in-process, summary view, no transport): what search costs, apart
 * from the transport and from waking the sidecar up on a busy machine.
 *
 * The library is written straight into SQLite: the real schema (the migrations), the store's own
 * derived columns (name key, folded search text: src/store/derived.ts) and its triggers (songs_fts
 * follows every insert), but one prepared INSERT in transactions of 20,000 rows instead of
 * songs.saveMany through the sidecar. Names, composers, genres, moods, tags and comments are drawn
 * from word lists with Zipf-like frequencies, with some diacritics and letters such as ł, ø, ß;
 * sections are about 300 bytes. The build is timed.
 *
 *   npm run bench:search [-- --sizes 1000,10000] [-- --rounds 5] [-- --bin dist-bin/whiteroom-store] [-- --dir DIR]
 *
 * `--dir` keeps the library there (and grows one found there): a second run skips the build.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { songs } from '../src/store/entities.js';
import { derivedValues, refreshDerived } from '../src/store/derived.js';
import { migrate } from '../src/store/migrations.js';
import { openDatabase } from '../src/store/database.js';
import { Repository } from '../src/store/repository.js';
import { Store } from '../src/store/store.js';
import { figure, median, Peer, QUICK, report, request, result, type Figure, type Series } from './lib.js';
import { seededRandom } from '../test/helpers/random.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: QUICK ? '1000,10000,50000' : '1000,10000,100000,1000000' },
    rounds: { type: 'string' },
    bin: { type: 'string' },
    dir: { type: 'string' },
  },
});
const SIZES = values.sizes!.split(',').map(Number);
/** Rounds of (baseline once, songs.search SEARCHES_PER_ROUND times) per query and size. */
const ROUNDS = values.rounds ? Number(values.rounds) : QUICK ? 3 : 5;
const SEARCHES_PER_ROUND = QUICK ? 3 : 5;
/**
 * Both views: a library browser's result list asks for summaries (names and metadata, no
 * structured parts); `full` adds the sidecar's cost of answering 50 whole records, which
 * songs.list {limit: 50} pays the same.
 */
const VIEWS = ['summary', 'full'] as const;
type View = (typeof VIEWS)[number];
const bin = values.bin ? [resolve(values.bin)] : [process.execPath, resolve('dist', 'src', 'main.js')];

// ---------------------------------------------------------------------------------------------
// The library
// ---------------------------------------------------------------------------------------------

/** Draws items with probability ∝ 1 / rank^s (rank 1 the first item). */
function zipf<T>(items: readonly T[], s: number, random: () => number): () => T {
  const cdf = new Float64Array(items.length);
  let sum = 0;
  for (let i = 0; i < items.length; i++) cdf[i] = sum += 1 / Math.pow(i + 1, s);
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = items.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return items[lo]!;
  };
}

// Real words first: they take the top ranks (the common words of song titles).
export const TITLE_WORDS = (
  'love night blue heart dance baby time day song light dream rain fire home road sun moon star girl world ' +
  'life way river summer down gold wild free angel soul sky city shadow eyes morning sweet lonely little old ' +
  'forever tonight rose winter ocean wind highway memory silver stone paper ghost garden golden storm letter ' +
  'midnight lullaby kiss goodbye hello train window mountain fever honey velvet thunder echo harbor desert ' +
  'café señorita mañana élan Łódź Øresund Straße Ærø Ñandu Beyoncé naïve fiancée Zürich Kraków Århus'
).split(' ');
const SYLLABLES = (
  'ka lo mi ren ta su vel na ri do ba ne sho lu pa zi mor fen gra tri ol an es ur ib quo yel wen dar ' +
  'kin thal bro sev mal cor lin pes rua gan hel jo vin sa te'
).split(' ');
const FIRST_NAMES = (
  'John Paul George Ringo Miles Bill Ella Billie Nina Frank Aretha Joni Leonard Bob Carole Stevie Antonín Frédéric ' +
  'Søren Łukasz Björk José Zoë Dvořák Agnès Chloé Jürgen Françoise Mário Małgorzata Ólafur Renée Hélène Åsa ' +
  'Marvin Otis Etta Sarah Chet Dizzy Thelonious Herbie Wayne Ornette Charles Duke Count Louis Django Astor'
).split(' ');
const LAST_NAMES = (
  'Davis Evans Simone Holiday Sinatra Franklin Mitchell Cohen Dylan King Wonder Dvořák Chopin Kierkegaard ' +
  'Nowak Guðmundsdóttir Gilberto Varda Hardy Jobim Strauß Müller Arnalds Fleming Ellington Basie Armstrong ' +
  'Reinhardt Piazzolla Gaye Redding James Vaughan Baker Gillespie Monk Hancock Shorter Coleman Mingus ' +
  'Jørgensen Wałęsa Ødegaard Æsir Brontë Saint-Saëns Poulenc Satie Ravel Debussy Fauré Grieg Sibelius'
).split(' ');
const GENRES = [
  'Pop', 'Rock', 'Jazz', 'Hip-Hop', 'Electronic', 'Folk', 'Classical', 'R&B', 'Country', 'Blues', 'Soul', 'Funk',
  'Reggae', 'Metal', 'Punk', 'Indie Rock', 'Folk Rock', 'Acid Jazz', 'Bossa Nova', 'Drum and Bass', 'hip hop',
  'Música Popular Brasileira', 'Chanson', 'Ambient', 'Techno', 'House', 'Disco', 'Gospel', 'Latin', 'Salsa',
  'Tango', 'Flamenco', 'K-Pop', 'J-Pop', 'Trip Hop', 'Lo-fi', 'Synthwave', 'Grunge', 'Ska', 'Opera', 'Baroque',
  'Bluegrass', 'Afrobeat', 'Cumbia', 'Fado', 'Klezmer', 'Polka', 'Zydeco', 'Ragtime', 'Swing', 'Bebop',
];
const MOODS = (
  'happy sad calm energetic melancholic uplifting dark dreamy romantic angry peaceful nostalgic playful epic ' +
  'tense mellow groovy somber hopeful euphoric brooding whimsical serene fierce tender mysterious bittersweet triumphant'
).split(' ');
const REAL_TAGS = [
  'live', 'acoustic', 'cover', 'demo', 'remix', 'instrumental', 'favorite', 'late night', 'acid jazz', 'jazz',
  'rehearsal', 'wedding', 'setlist', 'practice', 'piano', 'guitar', 'vocals', 'duet', 'key change', 'in progress',
  'finished', 'needs lyrics', 'Sommer', 'café', 'fête', 'déjà vu', 'road trip', 'encore', 'opener', 'ballad',
  'uptempo', 'slow', 'drop D', 'capo 2', 'capo 3', 'solo', 'trio', 'quartet', 'big band', 'choir', 'strings',
  'brass', 'synth', 'lo-fi', 'vinyl', 'radio edit', 'extended', 'unplugged', 'studio', 'bootleg',
];
const KEYS = ['C', 'G', 'D', 'A', 'E', 'F', 'Bb', 'Eb', 'Am', 'Em', 'Dm', 'F#m'];
const CHORDS = ['C', 'G', 'Am', 'F', 'Dm', 'Em', 'E7', 'Bb', 'D', 'A7'];

/** `n` distinct made-up words from syllables (the long tail of title words). */
function madeUpWords(n: number, random: () => number): string[] {
  const seen = new Set<string>(TITLE_WORDS.map((w) => w.toLowerCase()));
  const out: string[] = [];
  while (out.length < n) {
    const k = 2 + Math.floor(random() * 3);
    let w = '';
    for (let i = 0; i < k; i++) w += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    if (seen.has(w)) continue;
    seen.add(w);
    out.push(w);
  }
  return out;
}

/** Every title word, most frequent first: the real words, then made-up ones (the long tail). */
const VOCABULARY = [...TITLE_WORDS, ...madeUpWords(60_000, seededRandom(7))];
const COMPOSERS = (() => {
  const random = seededRandom(11);
  const tail = madeUpWords(20_000, seededRandom(13));
  return Array.from({ length: 20_000 }, (_, i) => {
    const first = FIRST_NAMES[Math.floor(random() * FIRST_NAMES.length)]!;
    const last = i < LAST_NAMES.length * 4 ? LAST_NAMES[i % LAST_NAMES.length]! : tail[i]!.replace(/^./, (c) => c.toUpperCase());
    return `${first} ${last}`;
  });
})();
const TAGS = [...REAL_TAGS, ...Array.from({ length: 400 }, (_, i) => `set ${2000 + (i % 26)}-${String(1 + (i % 12)).padStart(2, '0')} #${i}`)];
const COLUMNS = [
  'id', 'name', 'version', 'created_at', 'updated_at', 'revision', 'tempo', 'time_signature_numerator',
  'time_signature_denominator', 'duration_seconds', 'key', 'tags', 'composer', 'genre', 'mood', 'comments',
  'determinism_seed', 'sections_json', 'roles_json', 'projections_json', 'mix_graph_json', 'name_key', 'search_fold_json',
];

/** Writes songs `from` .. `to - 1` into the store's file; answers the seconds it took. */
function addSongs(store: Store, from: number, to: number): number {
  const random = seededRandom(0x5eed + from);
  const titleWord = zipf(VOCABULARY, 1.0, random);
  const composer = zipf(COMPOSERS, 0.9, random);
  const genre = zipf(GENRES, 1.1, random);
  const mood = zipf(MOODS, 0.8, random);
  const tag = zipf(TAGS, 1.0, random);
  const insert = store.db.prepare(`INSERT INTO songs (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`);
  const t0 = performance.now();
  const BATCH = 20_000;
  for (let start = from; start < to; start += BATCH) {
    store.write(() => {
      for (let i = start; i < Math.min(to, start + BATCH); i++) {
        const words = Array.from({ length: 1 + Math.floor(random() * 3.2) }, () => titleWord());
        const name = words.map((w, k) => (k === 0 ? w.replace(/^./, (c) => c.toUpperCase()) : w)).join(' ');
        const tags = [...new Set(Array.from({ length: Math.floor(random() * 5) }, () => tag()))];
        const bars = 4 + Math.floor(random() * 12);
        const row: Record<string, unknown> = {
          id: `song-${String(i).padStart(7, '0')}`,
          name,
          version: '1.0',
          created_at: 1_600_000_000_000 + i * 1000,
          updated_at: 1_600_000_000_000 + i * 1000,
          revision: 1,
          tempo: 60 + Math.floor(random() * 120),
          time_signature_numerator: random() < 0.8 ? 4 : 3,
          time_signature_denominator: 4,
          duration_seconds: 90 + Math.floor(random() * 300),
          key: KEYS[Math.floor(random() * KEYS.length)],
          tags: JSON.stringify(tags),
          composer: random() < 0.85 ? (random() < 0.1 ? `${composer()}, ${composer()}` : composer()) : null,
          genre: random() < 0.9 ? genre() : null,
          mood: random() < 0.7 ? mood() : null,
          comments: random() < 0.3 ? Array.from({ length: 3 + Math.floor(random() * 8) }, () => titleWord()).join(' ') : null,
          determinism_seed: String(i),
          sections_json: JSON.stringify([
            { id: 'intro', bars, chords: [CHORDS[i % 10], CHORDS[(i + 3) % 10], CHORDS[(i + 5) % 10], CHORDS[(i + 7) % 10]], feel: 'straight' },
            { id: 'verse', bars: bars * 2, chords: [CHORDS[(i + 1) % 10], CHORDS[(i + 4) % 10]], dynamics: 0.6 },
            { id: 'chorus', bars: 8, chords: [CHORDS[(i + 2) % 10], CHORDS[(i + 6) % 10], CHORDS[(i + 8) % 10]], dynamics: 0.9, repeat: 2 },
          ]),
          roles_json: '[]',
          projections_json: '[]',
          mix_graph_json: '{"tracks":[]}',
        };
        Object.assign(row, derivedValues(songs, row));
        insert.run(row);
      }
    });
  }
  return (performance.now() - t0) / 1000;
}

// ---------------------------------------------------------------------------------------------
// The queries
// ---------------------------------------------------------------------------------------------

const PLAN_SQL = 'SELECT * FROM songs WHERE name LIKE ? OR tags LIKE ? OR composer LIKE ?';
const PLAN_FILTERED_SQL = 'SELECT * FROM songs WHERE (name LIKE ? OR tags LIKE ? OR composer LIKE ?) AND genre LIKE ? AND tags LIKE ?';
/** What songs.search did before it ordered many matches by tier: BM25 over every match, ids joined. */
const BM25_EVERY_MATCH_SQL =
  'SELECT t.*, p.score FROM (SELECT m.rowid AS rid, m.id AS id, bm25(songs_fts, 10, 4, 3, 3, 3, 1) AS score ' +
  'FROM songs_fts JOIN songs AS m ON m.rowid = songs_fts.rowid WHERE songs_fts MATCH ? ORDER BY score, id LIMIT 51) AS p ' +
  'JOIN songs AS t ON t.rowid = p.rid ORDER BY p.score, p.id';

interface Query {
  kind: string;
  /** songs.search unless said. */
  method?: string;
  /** What it is, for the report: the words, and how many songs match. */
  label: string;
  params: Record<string, unknown>;
  /** The baseline's statement and its arguments (none: no baseline). */
  baseline?: { sql: string; args: string[] };
  /** Whether the speed-up goal applies. */
  goal: boolean;
}

const like = (q: string): string[] => [`%${q}%`, `%${q}%`, `%${q}%`];

/** The queries at this size, chosen from what the library holds (match counts from the index). */
function chooseQueries(db: ReturnType<typeof openDatabase>, size: number): Query[] {
  const countStmt = db.prepare('SELECT count(*) FROM songs_fts WHERE songs_fts MATCH ?').pluck();
  const count = (match: string): number => countStmt.get(match) as number;
  const pct = (n: number): string => `${n.toLocaleString('en')} matches, ${((100 * n) / size).toFixed(n < size / 1000 ? 3 : 1)}%`;
  const real = TITLE_WORDS.filter((w) => /^[a-z]+$/.test(w)).map((w) => ({ w, n: count(`"${w}"*`) }));
  const closest = (share: number, not: string[] = []): { w: string; n: number } =>
    real.filter((x) => !not.includes(x.w)).reduce((a, b) => (Math.abs(b.n - share * size) < Math.abs(a.n - share * size) ? b : a));
  const common = closest(0.1);
  const medium = closest(0.01, [common.w]);
  // A word of a few names, no part of another word (the baseline's LIKE would find more).
  const others = [...VOCABULARY, ...COMPOSERS, ...TAGS, ...GENRES, ...MOODS].map((w) => w.toLowerCase());
  let rare: { w: string; n: number } | undefined;
  for (let r = Math.floor(size * 0.05); r < VOCABULARY.length && !rare; r++) {
    const w = VOCABULARY[r]!;
    if (!/^[a-z]+$/.test(w)) continue;
    const n = count(`"${w}"*`);
    if (n >= 2 && n <= 12 && others.every((o) => o === w || !o.includes(w))) rare = { w, n };
  }
  const [w1, w2] = [TITLE_WORDS[1]!, TITLE_WORDS[2]!];
  const two = count(`"${w1}"* "${w2}"*`);
  const filtered = count('{genre} : "rock" AND {tags} : "live"');
  const withWord = count(`"${medium.w}"* AND {genre} : "rock" AND {tags} : "live"`);
  return [
    { kind: 'rare', label: `rare word "${rare!.w}" (${pct(rare!.n)})`, params: { query: rare!.w }, baseline: { sql: PLAN_SQL, args: like(rare!.w) }, goal: true },
    { kind: 'medium', label: `medium word "${medium.w}" (${pct(medium.n)})`, params: { query: medium.w }, baseline: { sql: PLAN_SQL, args: like(medium.w) }, goal: true },
    { kind: 'common', label: `common word "${common.w}" (${pct(common.n)})`, params: { query: common.w }, baseline: { sql: PLAN_SQL, args: like(common.w) }, goal: true },
    { kind: 'two words', label: `two words "${w1} ${w2}" (${pct(two)})`, params: { query: `${w1} ${w2}` }, baseline: { sql: PLAN_SQL, args: like(`${w1} ${w2}`) }, goal: true },
    {
      kind: 'filtered',
      label: `genre "rock" + tag "live", no words (${pct(filtered)} before the whole-tag check)`,
      params: { genre: 'rock', tags: ['live'] },
      baseline: { sql: PLAN_FILTERED_SQL, args: [...like(''), '%rock%', '%live%'] },
      goal: true,
    },
    {
      kind: 'filtered + word',
      label: `"${medium.w}" + genre "rock" + tag "live" (${pct(withWord)})`,
      params: { query: medium.w, genre: 'rock', tags: ['live'] },
      baseline: { sql: PLAN_FILTERED_SQL, args: [...like(medium.w), '%rock%', '%live%'] },
      goal: false,
    },
    { kind: 'one letter', label: `one letter "m", as typed (${pct(count('"m"*'))})`, params: { query: 'm' }, goal: false },
    { kind: 'list', method: 'songs.list', label: 'songs.list, newest first: the cost of answering 50 records, no search', params: {}, goal: false },
  ];
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const ms = (t: number): number => performance.now() - t;
const dir = values.dir ? resolve(values.dir) : mkdtempSync(join(tmpdir(), 'wr-bench-search-'));
const figures: Figure[] = [];
const searchSeries = new Map<string, Series>();
const baseSeries = new Map<string, Series>();
const notes: string[] = [];
const point = (map: Map<string, Series>, name: string, x: number, samples: number[]): void => {
  if (!map.has(name)) map.set(name, { name, unit: 'ms', points: [] });
  const s = [...samples].sort((a, b) => a - b);
  map.get(name)!.points.push({ x, median: median(s), p99: s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]! });
};

try {
  mkdirSync(join(dir, 'backups'), { recursive: true });
  const dbPath = join(dir, 'data.db');
  const fresh = !existsSync(dbPath);
  let store = Store.open(dbPath);
  await migrate(store.db, dbPath, { backupDir: join(dir, 'backups') });
  refreshDerived(store.db);
  let have = store.db.prepare('SELECT count(*) FROM songs').pluck().get() as number;
  if (!fresh) console.log(`${dir}: ${have.toLocaleString('en')} songs already there`);
  for (const size of SIZES) {
    if (have < size) {
      const seconds = addSongs(store, have, size);
      store.checkpoint();
      console.log(`built ${have.toLocaleString('en')} -> ${size.toLocaleString('en')} songs in ${seconds.toFixed(1)} s (${Math.round((size - have) / seconds).toLocaleString('en')} songs/s, triggers keeping songs_fts)`);
      figures.push({ name: `build: songs ${have.toLocaleString('en')} -> ${size.toLocaleString('en')}`, unit: 'ms', median: seconds * 1000 });
      have = size;
    } else if (have > size) {
      console.log(`skipping ${size.toLocaleString('en')}: the library at ${dir} holds ${have.toLocaleString('en')}`);
      continue;
    }
    store.close();
    const mib = statSync(dbPath).size / 2 ** 20;
    figures.push({ name: `file at ${size.toLocaleString('en')} songs`, unit: 'MiB', median: mib });

    // The baseline reads the same file, opened as the sidecar opens it.
    const db = openDatabase(dbPath, { readonly: true });
    const queries = chooseQueries(db, size);
    let t = performance.now();
    const peer = Peer.spawn(bin[0]!, [...bin.slice(1), '--data-dir', dir, '--log-level', 'warn', '--auto-backup-hours', '0']);
    result(await peer.ask(request('system.ping')));
    const startMs = ms(t);
    console.log(`${size.toLocaleString('en')} songs (${mib.toFixed(0)} MiB): sidecar answered its first request ${startMs.toFixed(0)} ms after spawn`);
    const search = async (q: Query, view: View): Promise<number> => {
      const t0 = performance.now();
      const answer = JSON.parse(await peer.ask(request(q.method ?? 'songs.search', { ...q.params, limit: 50, view }))) as { result?: { items: unknown[] }; error?: unknown };
      const took = ms(t0);
      if (!answer.result) throw new Error(`songs.search ${JSON.stringify(q.params)}: ${JSON.stringify(answer.error)}`);
      return took;
    };
    const statements = new Map(queries.filter((q) => q.baseline).map((q) => [q.kind, db.prepare(q.baseline!.sql)]));
    const searchMs = new Map<string, number[]>(queries.flatMap((q) => VIEWS.map((v) => [`${q.kind}|${v}`, []] as [string, number[]])));
    const baseMs = new Map<string, number[]>(queries.map((q) => [q.kind, []]));
    const baseRows = new Map<string, number>();
    for (const q of queries) for (const v of VIEWS) await search(q, v); // statements prepared, pages warm
    for (let round = 0; round < ROUNDS; round++) {
      for (const q of queries) {
        const stmt = statements.get(q.kind);
        if (stmt) {
          t = performance.now();
          const rows = stmt.all(...q.baseline!.args);
          baseMs.get(q.kind)!.push(ms(t));
          baseRows.set(q.kind, rows.length);
        }
        for (let i = 0; i < SEARCHES_PER_ROUND; i++) for (const v of VIEWS) searchMs.get(`${q.kind}|${v}`)!.push(await search(q, v));
      }
    }
    // The order songs.search had before: BM25 over every match of the common word.
    const common = queries.find((q) => q.kind === 'common')!;
    const bm25 = db.prepare(BM25_EVERY_MATCH_SQL);
    const bm25Ms: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      t = performance.now();
      bm25.all(`"${common.params.query as string}"*`);
      bm25Ms.push(ms(t));
    }
    await peer.close();
    db.close();
    // The store's part alone: the same searches in-process (the sidecar's Repository on its own
    // connection, summary view), no transport, no other process to wake up.
    const reader = Store.open(dbPath);
    const repo = new Repository(reader, songs);
    const storeMs = new Map<string, number[]>(queries.map((q) => [q.kind, []]));
    const inStore = (q: Query): unknown => {
      const { query, ...filters } = q.params as { query?: string };
      return q.method ? repo.list({ limit: 50, view: 'summary' }) : repo.search(query, { limit: 50, view: 'summary', filters });
    };
    for (const q of queries) inStore(q);
    for (let round = 0; round < ROUNDS; round++) {
      for (const q of queries) {
        for (let i = 0; i < SEARCHES_PER_ROUND; i++) {
          t = performance.now();
          inStore(q);
          storeMs.get(q.kind)!.push(ms(t));
        }
      }
    }
    reader.close();

    const goal = size >= 1_000_000 ? { min: 300 } : size >= 100_000 ? { min: 50 } : undefined;
    const floor = (v: View): number => median(searchMs.get(`list|${v}`)!);
    for (const v of VIEWS) {
      for (const q of queries) {
        const samples = searchMs.get(`${q.kind}|${v}`)!;
        point(searchSeries, `songs.search ${q.kind}, ${v}`, size, samples);
        if (q.baseline && v === VIEWS[0]) point(baseSeries, `plan LIKE query ${q.kind}`, size, baseMs.get(q.kind)!);
        if (!goal) continue;
        const name = `${size.toLocaleString('en')} songs, ${v}: ${q.label}`;
        const f = q.baseline
          ? figure(name, 'ms', samples, { baseline: `plan LIKE query (${baseRows.get(q.kind)!.toLocaleString('en')} rows)`, samples: baseMs.get(q.kind)!, ...(q.goal ? { goal } : { goal: { min: 1 } }) })
          : figure(name, 'ms', samples);
        figures.push(f);
        if (q.goal && f.met === false) {
          notes.push(
            `NOT met: ${name}: ${f.median.toFixed(2)} ms, needed ≤ ${(median(baseMs.get(q.kind)!) / goal.min).toFixed(2)} ms; ` +
              `songs.list of 50 (no search) took ${floor(v).toFixed(2)} ms in this view.`,
          );
        }
      }
    }
    for (const q of queries) {
      const samples = storeMs.get(q.kind)!;
      point(searchSeries, `in the store (no transport) ${q.kind}, summary`, size, samples);
      if (!goal) continue;
      const name = `${size.toLocaleString('en')} songs, in the store (summary, no transport): ${q.label}`;
      figures.push(
        q.baseline
          ? figure(name, 'ms', samples, { baseline: 'plan LIKE query', samples: baseMs.get(q.kind)!, goal: { min: goal.min } })
          : figure(name, 'ms', samples),
      );
    }
    point(searchSeries, 'BM25 over every match of the common word (SQL in-process)', size, bm25Ms);
    if (goal) {
      figures.push(
        figure(`${size.toLocaleString('en')} songs: common word by BM25 over every match (the order before; SQL in-process, no transport)`, 'ms', bm25Ms, {
          baseline: 'plan LIKE query',
          samples: baseMs.get('common')!,
          goal: { min: 1 },
        }),
      );
    }
    if (size < SIZES[SIZES.length - 1]!) store = Store.open(dbPath);
  }
  report({
    bench: 'search',
    setup:
      `songs.search through the sidecar (first page, limit 50, summary and full views, request to parsed answer; ${ROUNDS} rounds of ${SEARCHES_PER_ROUND}) ` +
      `against the plan's LIKE query in-process on the same file (${ROUNDS} runs, alternating); sizes ${SIZES.map((s) => s.toLocaleString('en')).join(', ')}; ` +
      `target ${bin.length > 1 ? 'dist/src/main.js' : values.bin}`,
    figures,
    // The chart draws the rare and common words (summary) and their LIKE baselines; the table has every one.
    series: [...searchSeries.values(), ...baseSeries.values()].map((s) => ({ ...s, chart: /(rare|common)(, summary)?$/.test(s.name) && !/full$/.test(s.name) })),
  });
  for (const n of notes) console.log(n);
} finally {
  if (!values.dir) rmSync(dir, { recursive: true, force: true });
}
