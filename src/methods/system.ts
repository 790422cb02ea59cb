/** system.* and rpc.discover. */
import { OPENRPC_DOCUMENT } from '../generated/openrpc.js';
import type { Services } from './services.js';
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
    }),
    'system.ping': () => ({ pong: true, time: Date.now() }),
    'system.shutdown': () => {
      s.requestShutdown();
      return { ok: true };
    },
  };
}

export const discover: TypedHandler<'rpc.discover'> = () => OPENRPC_DOCUMENT as never;
