/**
 * Loading better-sqlite3's native addon inside the packaged single binary (Node SEA).
 *
 * The binary carries better_sqlite3.node as a SEA asset. A native addon can only be loaded from a
 * file, so at start the binary writes it once to the per-user cache folder under a name that
 * contains its SHA-256 (computed at build time), then loads it with process.dlopen. The file is
 * written to a temporary name and renamed into place, so two binaries starting at the same moment
 * never load half a file; a new build has a new hash and so a new file.
 *
 * Outside the packaged binary this does nothing and better-sqlite3 finds its addon as usual.
 */
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sea from 'node:sea';
import envPaths from 'env-paths';

/** The SEA asset key of the addon (scripts/package.mjs). */
export const ADDON_ASSET = 'better_sqlite3.node';

/** Set by esbuild's `define` in the packaged build: the addon's SHA-256 in hex. */
declare const __WHITEROOM_ADDON_SHA256__: string | undefined;

/**
 * In the packaged binary, loads the embedded addon and returns its module object (for
 * better-sqlite3's `nativeBinding` option); undefined when not running as a packaged binary.
 * Throws with the path it tried when the addon cannot be written or loaded.
 */
export function loadEmbeddedAddon(): object | undefined {
  if (!sea.isSea()) return undefined;
  const hash = typeof __WHITEROOM_ADDON_SHA256__ === 'string' ? __WHITEROOM_ADDON_SHA256__ : 'unknown';
  const asset = sea.getRawAsset(ADDON_ASSET) as ArrayBuffer;
  const name = `better_sqlite3-${hash.slice(0, 16)}.node`;
  let lastError: unknown;
  // The per-user cache folder first; the temporary folder when the cache cannot be written.
  for (const dir of [envPaths('whiteroom-store', { suffix: '' }).cache, tmpdir()]) {
    const file = join(dir, name);
    try {
      if (!hasSize(file, asset.byteLength)) {
        mkdirSync(dir, { recursive: true });
        const temp = `${file}.${process.pid}.tmp`;
        try {
          writeFileSync(temp, new Uint8Array(asset));
          renameSync(temp, file);
        } finally {
          rmSync(temp, { force: true });
        }
      }
      const module = { exports: {} };
      process.dlopen(module, file);
      return module.exports;
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`cannot load the SQLite addon: ${(lastError as Error)?.message ?? String(lastError)}`);
}

function hasSize(file: string, size: number): boolean {
  try {
    return statSync(file).size === size;
  } catch {
    return false;
  }
}
