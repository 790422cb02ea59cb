/** export.* and import.*: songs as JSON, everything as a zip. */
import { announceReset, longOperation } from './backup.js';
import type { Services } from './services.js';
import type { FamilyHandlers } from './types.js';

export function exportMethods(s: Services): FamilyHandlers<'export'> {
  return {
    'export.songs': (p) => s.transfer.exportSongs(p),
    'export.full': ({ path, workDoneToken }, ctx) => s.archive.exportFull(path, longOperation(s, workDoneToken, ctx)),
  };
}

export function importMethods(s: Services): FamilyHandlers<'import'> {
  return {
    'import.songs': async ({ path, onConflict, includeHistory }) => {
      const doc = s.transfer.readSongs(path);
      // Replacing overwrites stored songs: keep the state before it.
      const backup = onConflict === 'replace' ? await s.backups.create('pre-import', undefined) : undefined;
      return { ...s.transfer.importSongs(doc, onConflict, includeHistory ?? true), ...(backup ? { safetyBackup: backup } : {}) };
    },
    'import.full': async ({ path, workDoneToken }, ctx) => {
      const imported = await s.archive.importFull(path, longOperation(s, workDoneToken, ctx));
      announceReset(s, 'import', imported);
      return imported;
    },
  };
}
