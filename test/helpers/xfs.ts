/**
 * An XFS file system with reflink (copy-on-write clones) in an image file on a loop device, for the
 * tests and the benchmark that show a backup made as a clone. Needs Linux, root, losetup and
 * mkfs.xfs (Debian: `apt-get install xfsprogs`); where one is missing, `mountXfs` answers why, and
 * nothing is left behind. `unmountXfs` always unmounts, detaches the loop device and removes the
 * image and the folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Xfs {
  /** The mounted file system's root. */
  dir: string;
  device: string;
  image: string;
  /** The folder that holds the image and the mount point. */
  work: string;
}

const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { stdio: 'pipe', encoding: 'utf8' }).trim();

/** Mounts a new XFS (reflink=1) of `mib` MiB (at least 300: mkfs.xfs's minimum); answers it, or why it cannot. */
export function mountXfs(mib = 512): Xfs | string {
  if (process.platform !== 'linux') return 'an XFS image on a loop device needs Linux';
  if (process.getuid?.() !== 0) return 'mounting an XFS image on a loop device needs root';
  for (const tool of ['mkfs.xfs', 'losetup', 'mount', 'umount']) {
    try {
      run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} is not installed${tool === 'mkfs.xfs' ? ' (Debian: apt-get install xfsprogs)' : ''}`;
    }
  }
  const work = mkdtempSync(join(tmpdir(), 'wr-xfs-'));
  const image = join(work, 'xfs.img');
  const dir = join(work, 'mnt');
  let device: string | undefined;
  let mounted = false;
  try {
    run('truncate', ['-s', `${mib}M`, image]);
    run('mkdir', [dir]);
    device = run('losetup', ['--find', '--show', image]);
    run('mkfs.xfs', ['-q', '-m', 'reflink=1', device]);
    run('mount', [device, dir]);
    mounted = true;
    return { dir, device, image, work };
  } catch (err) {
    const why = `cannot make an XFS image on a loop device: ${(err as Error).message.split('\n')[0]}`;
    unmountXfs({ dir: mounted ? dir : '', device: device ?? '', image, work });
    return why;
  }
}

/** Unmounts, detaches and removes what mountXfs made. Nothing when undefined. */
export function unmountXfs(xfs: Xfs | undefined): void {
  if (!xfs) return;
  try {
    if (xfs.dir) {
      try {
        run('umount', [xfs.dir]);
      } catch {
        run('umount', ['-l', xfs.dir]); // a file still open there: detached now, gone when closed
      }
    }
  } finally {
    try {
      if (xfs.device) run('losetup', ['-d', xfs.device]);
    } finally {
      rmSync(xfs.work, { recursive: true, force: true });
    }
  }
}

/** The bytes in use on the file system that holds `dir`. */
export function usedBytes(dir: string): number {
  const s = statfsSync(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

/** `filefrag -v` of `path`: its extents, and how many of them are marked shared (a clone's). */
export function extents(path: string): { total: number; shared: number; text: string } {
  const text = run('filefrag', ['-v', path]);
  const rows = text.split('\n').filter((l) => /^\s*\d+:/.test(l));
  return { total: rows.length, shared: rows.filter((l) => /\bshared\b/.test(l)).length, text };
}
