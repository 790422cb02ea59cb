/**
 * Start-up: time from spawn to the first answer (system.ping), against a bare `node -e 0`
 * measured in the same run, interleaved so both see the same machine load. Medians.
 *
 *   npm run bench:startup [-- --runs 30] [-- --bin dist-bin/whiteroom-store]
 *
 * The sidecar starts on an existing data directory (the app-launch case); a fresh one (first
 * launch: creating and migrating the database) is reported too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '30' }, bin: { type: 'string' } },
});
const runs = Number(values.runs);
const defaultBin = resolve('dist-bin', 'whiteroom-store');
const target: [string, string[]] = values.bin
  ? [resolve(values.bin), []]
  : existsSync(defaultBin)
    ? [defaultBin, []]
    : [process.execPath, [resolve('dist', 'src', 'main.js')]];

/** Milliseconds from spawn until the first stdout byte (or exit, when `input` is undefined). */
function time(cmd: string, args: string[], input?: string): Promise<number> {
  return new Promise((done, fail) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] });
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const ping = '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n';
const dir = mkdtempSync(join(tmpdir(), 'wr-bench-startup-'));
const existing = join(dir, 'existing');
const [cmd, lead] = target;
const sidecar = (dataDir: string): [string, string[]] => [cmd, [...lead, '--data-dir', dataDir, '--log-level', 'warn']];

try {
  await time(...sidecar(existing), ping); // create the database once; also warms the addon cache
  const base: number[] = [];
  const warm: number[] = [];
  const fresh: number[] = [];
  for (let i = 0; i < runs; i++) {
    base.push(await time(process.execPath, ['-e', '0']));
    warm.push(await time(...sidecar(existing), ping));
    const freshDir = join(dir, `fresh-${i}`);
    fresh.push(await time(...sidecar(freshDir), ping));
    rmSync(freshDir, { recursive: true, force: true });
  }
  const b = median(base);
  console.log(`startup (${runs} runs each, medians; target: ${[cmd, ...lead].join(' ')})`);
  console.log(`  node -e 0 (baseline)                 ${b.toFixed(1)} ms`);
  console.log(`  spawn -> first answer, existing db   ${median(warm).toFixed(1)} ms   ratio ${(median(warm) / b).toFixed(2)}x`);
  console.log(`  spawn -> first answer, new db        ${median(fresh).toFixed(1)} ms   ratio ${(median(fresh) / b).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
