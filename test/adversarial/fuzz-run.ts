/**
 * The fuzzer's long mode: `npm run fuzz -- --messages 1000000 --seed 42 [--hostile-paths]
 * [--methods a,b] [--exclude file|a,b] [--hash-every N] [--chunk N]` (or FUZZ_MESSAGES, FUZZ_SEED, FUZZ_HOSTILE_PATHS=1,
 * FUZZ_METHODS, FUZZ_EXCLUDE). `--exclude file` leaves out the methods that take a path. Prints the seed first, progress as it
 * goes, then the counts and every failure with its exact request; exits 1 when anything failed.
 */
import { METHOD_SPECS } from '../helpers/contract.js';
import { fuzz } from '../helpers/fuzz.js';

function option(name: string, env: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i !== -1) return process.argv[i + 1];
  return process.env[env];
}

const seed = Number(option('seed', 'FUZZ_SEED') ?? Math.floor(Math.random() * 2 ** 31));
const messages = Number(option('messages', 'FUZZ_MESSAGES') ?? 100000);
const hostilePaths = process.argv.includes('--hostile-paths') || process.env.FUZZ_HOSTILE_PATHS === '1';
const maxFailures = Number(option('max-failures', 'FUZZ_MAX_FAILURES') ?? 20);
// A content hash of every table around one window in `hashEvery` (a long run on a growing store may take fewer).
const hashEvery = Number(option('hash-every', 'FUZZ_HASH_EVERY') ?? 8);
const only = option('methods', 'FUZZ_METHODS')?.split(',');
// --exclude file: every method but those that take a path (their own run: --hostile-paths).
const excluded = (option('exclude', 'FUZZ_EXCLUDE')?.split(',') ?? []).flatMap((m) =>
  m === 'file' ? Object.keys(METHOD_SPECS).filter((n) => 'path' in (METHOD_SPECS[n].params.properties ?? {})) : [m],
);
const methods = only || excluded.length ? (only ?? Object.keys(METHOD_SPECS)).filter((m) => !excluded.includes(m)) : undefined;
if (!Number.isInteger(seed) || !Number.isInteger(messages) || messages <= 0) {
  console.error('usage: npm run fuzz -- [--messages N] [--seed N] [--hostile-paths] [--max-failures N] [--methods a,b] [--exclude file|a,b] [--hash-every N] [--chunk N]');
  process.exit(2);
}
// --chunk N: the run is made of chunks of N messages, each on a fresh store with its own seed
// (seed, seed + 1, ...): a store that grows for a million messages makes each message slower.
const chunk = Number(option('chunk', 'FUZZ_CHUNK') ?? messages);
if (!Number.isInteger(chunk) || chunk <= 0) {
  console.error('--chunk must be a positive integer');
  process.exit(2);
}
console.log(
  `fuzz: seed ${seed}, ${messages} messages${chunk < messages ? ` in chunks of ${chunk}` : ''}${hostilePaths ? ', hostile paths' : ''}, ` +
    `a hash around one window in ${hashEvery}`,
);
const started = Date.now();
let sent = 0;
const failures: Awaited<ReturnType<typeof fuzz>>['failures'] = [];
const totals: Record<string, number> = {};
for (let part = 0; sent < messages && failures.length < maxFailures; part++) {
  const partSeed = seed + part;
  const { stats, failures: found } = await fuzz({
    seed: partSeed,
    messages: Math.min(chunk, messages - sent),
    hostilePaths,
    maxFailures: maxFailures - failures.length,
    hashEvery,
    ...(methods ? { methods } : {}),
    log: (line) => console.log(`fuzz: [seed ${partSeed}] ${line}`),
  });
  sent += stats.messages;
  failures.push(...found);
  for (const key of ['requests', 'valid', 'mutated', 'raw', 'batches', 'cancels', 'restarts', 'results', 'hashChecks'] as const) {
    totals[key] = (totals[key] ?? 0) + (stats[key] as number);
  }
  for (const [code, n] of Object.entries(stats.errors)) totals[`error ${code}`] = (totals[`error ${code}`] ?? 0) + n;
  console.log(`fuzz: chunk ${part + 1} (seed ${partSeed}) done: ${stats.messages} messages, ${found.length} failures; ${sent} in all`);
}
const elapsed = (Date.now() - started) / 1000;
console.log(JSON.stringify(totals, null, 2));
for (const f of failures) console.log(JSON.stringify(f));
console.log(`fuzz: seed ${seed}: ${sent} messages in ${elapsed.toFixed(1)} s (${Math.round(sent / elapsed)}/s), ${failures.length} failures`);
process.exit(failures.length ? 1 : 0);
