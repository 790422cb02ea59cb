/** system.* and rpc.discover. */
import { OPENRPC_DOCUMENT } from '../generated/openrpc.js';
import { recordCounts } from '../store/backup.js';
import { damagedFileSizes, dirBytes, doctor, fileShape, lastAutosaveAt } from '../store/health.js';
import type { Services } from './services.js';
import { readOnlyRefused } from '../errors.js';
import type { FamilyHandlers, TypedHandler } from './types.js';

export function systemMethods(s: Services): FamilyHandlers<'system'> {
  return {
    'system.info': () => ({
      name: 'whiteroom-store',
      version: s.runtime.version,
      schemaVersion: s.store.schemaVersion,
      sqliteVersion: s.store.sqliteVersion,
      nodeVersion: process.versions.node,
      dataDir: s.runtime.dataDir,
      dbPath: s.runtime.dbPath,
      pid: process.pid,
      framing: s.runtime.framing(),
      startedAt: s.runtime.startedAt,
      ...(s.runtime.readOnly ? { readOnly: true as const } : {}),
      ...(s.runtime.recovery ? { recovery: s.runtime.recovery } : {}),
    }),
    'system.ping': () => ({ pong: true, time: Date.now() }),
    'system.stats': () => {
      const all = s.backups.all();
      const sound = all.find((b) => !b.damaged); // the newest backup that is a database
      const last = lastAutosaveAt(s.store);
      return {
        ...fileShape(s.store),
        backupsBytes: all.reduce((n, b) => n + b.sizeBytes, 0),
        backupCount: all.length,
        exportsBytes: dirBytes(s.runtime.exportsDir),
        damagedFiles: damagedFileSizes(s.runtime.dbPath),
        counts: recordCounts(s.store.db),
        history: s.history.stats(),
        ...(sound ? { lastBackup: sound } : {}),
        ...(last === undefined ? {} : { lastAutosaveAt: last }),
      };
    },
    'system.doctor': ({ vacuum }) => {
      // A read everywhere else: the vacuum rewrites the file.
      if (vacuum && s.store.readOnly) throw readOnlyRefused('system.doctor', 'system.doctor with vacuum: true rewrites the database file');
      return doctor(s.store, vacuum ?? false);
    },
    'system.shutdown': () => {
      s.requestShutdown();
      return { ok: true };
    },
  };
}

export const discover: TypedHandler<'rpc.discover'> = () => OPENRPC_DOCUMENT as never;
