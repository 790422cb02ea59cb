/**
 * The fuzzer's long mode: `npm run fuzz -- --messages 1000000 --seed 42 [--hostile-paths]
 * [--methods a,b] [--exclude file|a,b] [--hash-every N]` (or FUZZ_MESSAGES, FUZZ_SEED, FUZZ_HOSTILE_PATHS=1,
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
  console.error('usage: npm run fuzz -- [--messages N] [--seed N] [--hostile-paths] [--max-failures N] [--methods a,b] [--exclude file|a,b] [--hash-every N]');
  process.exit(2);
}
console.log(`fuzz: seed ${seed}, ${messages} messages${hostilePaths ? ', hostile paths' : ''}, a hash around one window in ${hashEvery}`);
const { stats, failures } = await fuzz({
  seed,
  messages,
  hostilePaths,
  maxFailures,
  hashEvery,
  ...(methods ? { methods } : {}),
  log: (line) => console.log(`fuzz: ${line}`),
});
console.log(JSON.stringify(stats, null, 2));
for (const f of failures) console.log(JSON.stringify(f));
console.log(
  `fuzz: seed ${seed}: ${stats.messages} messages in ${(stats.elapsedMs / 1000).toFixed(1)} s ` +
    `(${Math.round(stats.messages / (stats.elapsedMs / 1000))}/s), ${failures.length} failures`,
);
process.exit(failures.length ? 1 : 0);
