/**
 * Start-up: time from spawn to the first answer (system.ping over NDJSON on stdin), against a
 * bare `node -e 0` measured in the same run. Every round runs the baseline and each subject once,
 * one after another, so all see the same machine load. Medians and p99, in milliseconds.
 *
 *   npm run bench:startup [-- --runs 30] [-- --bin dist-bin/whiteroom-store]
 *
 * The target is the packaged binary when dist-bin/whiteroom-store exists, else
 * `node dist/src/main.js`. Subjects:
 *   - an existing data directory (the app-launch case): goal ≤ 1.3x node -e 0;
 *   - a new one (first launch: creating and migrating the database);
 *   - for the packaged binary, the floor: a single executable built here from this node that
 *     only answers one line (what any SEA binary costs before doing anything of its own).
 * Every process gets a clean environment (bench/lib.ts cleanEnv) with a HOME and a cache folder
 * of the bench's own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanEnv, figure, QUICK, report, type Figure } from './lib.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: QUICK ? '10' : '30' }, bin: { type: 'string' } },
});
const runs = Number(values.runs);
const defaultBin = resolve('dist-bin', process.platform === 'win32' ? 'whiteroom-store.exe' : 'whiteroom-store');
const target: [string, string[]] = values.bin
  ? [resolve(values.bin), []]
  : existsSync(defaultBin)
    ? [defaultBin, []]
    : [process.execPath, [resolve('dist', 'src', 'main.js')]];
const packaged = target[1].length === 0;

const dir = mkdtempSync(join(tmpdir(), 'wr-bench-startup-'));
const env = cleanEnv({ HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'cache'), LOCALAPPDATA: join(dir, 'local') });
mkdirSync(join(dir, 'home'));
const PING = '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n';

/** Milliseconds from spawn until the first stdout byte (or until exit, when `input` is undefined). */
function time(cmd: string, args: string[], input?: string): Promise<number> {
  return new Promise((done, fail) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'], env });
    let elapsed: number | undefined;
    // The time is taken at the first answer; the promise settles once the process has exited,
    // so runs never overlap and its folder can be removed.
    const finish = (): void => {
      if (elapsed !== undefined) return;
      elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
      child.stdin.end();
    };
    child.on('error', fail);
    child.on('exit', (code) => {
      if (input === undefined) finish();
      if (elapsed === undefined) fail(new Error(`${cmd} exited ${code} without answering`));
      else done(elapsed);
    });
    if (input === undefined) {
      child.stdin.end();
    } else {
      child.stdout.once('data', finish);
      child.stdin.write(input);
    }
  });
}

/**
 * A single executable made from this node whose program reads one line and answers it: the
 * floor of any SEA binary. Undefined (with a note) where it cannot be built here.
 */
function buildFloor(): string | undefined {
  if (process.platform !== 'linux') return undefined; // macOS and Windows need signing steps
  try {
    const require = createRequire(import.meta.url);
    const main = join(dir, 'floor.cjs');
    writeFileSync(
      main,
      `process.stdin.once('data', (c) => { const id = JSON.parse(c.toString().split('\\n')[0]).id; process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id, result: { pong: true, time: Date.now() } }) + '\\n'); });\n`,
    );
    const config = join(dir, 'floor.json');
    const blob = join(dir, 'floor.blob');
    writeFileSync(config, JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
    const bin = join(dir, 'floor');
    const steps: [string, string[]][] = [
      [process.execPath, ['--experimental-sea-config', config]],
      [process.execPath, [require.resolve('postject/dist/cli.js'), bin, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2']],
    ];
    copyFileSync(process.execPath, bin);
    for (const [cmd, args] of steps) {
      const r = spawnSync(cmd, args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${args[0]}: exit ${r.status} ${r.stderr}`);
    }
    return bin;
  } catch (err) {
    console.error(`startup: no floor binary (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

const [cmd, lead] = target;
const sidecar = (dataDir: string): [string, string[]] => [cmd, [...lead, '--data-dir', dataDir, '--log-level', 'warn']];
const existing = join(dir, 'existing');

try {
  const floor = packaged ? buildFloor() : undefined;
  // The database is created once; this also puts the addon into the bench's cache folder.
  await time(...sidecar(existing), PING);
  const base: number[] = [];
  const warm: number[] = [];
  const fresh: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    base.push(await time(process.execPath, ['-e', '0']));
    warm.push(await time(...sidecar(existing), PING));
    base.push(await time(process.execPath, ['-e', '0']));
    const freshDir = join(dir, `fresh-${i}`);
    fresh.push(await time(...sidecar(freshDir), PING));
    rmSync(freshDir, { recursive: true, force: true });
    if (floor) bare.push(await time(floor, [], PING));
  }
  const against = { baseline: 'node -e 0', samples: base };
  const figures: Figure[] = [
    figure('node -e 0', 'ms', base),
    figure('spawn to first answer, existing data directory', 'ms', warm, { ...against, goal: { max: 1.3 } }),
    figure('spawn to first answer, new data directory', 'ms', fresh, against),
  ];
  if (floor) figures.push(figure('floor: a SEA binary that answers one line', 'ms', bare, against));
  report({
    bench: 'startup',
    setup: `${runs} rounds, each: node -e 0, existing, node -e 0, new${floor ? ', floor' : ''}; target ${[cmd, ...lead].join(' ')}`,
    figures,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
