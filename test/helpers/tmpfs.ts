/**
 * A small tmpfs for a test that needs a disk it can fill. Mounting needs Linux and root: elsewhere
 * the test is skipped with one line saying why. Every folder mounted is unmounted by the test.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { tempDir } from './process.js';

/** Mounts a tmpfs of `size` (`8m`, `16m`) on a new temporary folder and answers it; skips `ctx`'s test where it cannot. */
export function mountTmpfs(ctx: Mocha.Context, size: string, prefix: string): string {
  if (process.platform !== 'linux') {
    process.stderr.write('      (skipped: this test mounts a tmpfs, which needs Linux)\n');
    ctx.skip();
  }
  const dir = tempDir(prefix);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`      (skipped: cannot mount a tmpfs, which needs root: ${(err as Error).message.split('\n')[0]})\n`);
    ctx.skip();
  }
  return dir;
}

/** Unmounts `dir` (lazily: a process may still hold a file there) and removes the folder. Nothing when undefined. */
export function unmountTmpfs(dir: string | undefined): void {
  if (dir === undefined) return;
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes zeros into `path` until the file system has no block left (down to the last byte). */
export function fillDisk(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4096, 512, 1]) {
      const zeros = Buffer.alloc(size);
      for (;;) {
        try {
          if (writeSync(fd, zeros) < size) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}
