/**
 * `whiteroom-store --version`: the program's version, the newest database schema it knows (its
 * last migration) and the version of the SQLite it carries. Only --version calls this: naming
 * SQLite's version loads the native addon and opens an in-memory database, which a start of
 * serving does not wait for here.
 */
import { MIGRATIONS } from '../generated/migrations.js';
import { OPENRPC_DOCUMENT } from '../generated/openrpc.js';
import { loadEmbeddedAddon } from '../store/native-addon.js';
import { connect, setNativeBinding } from '../store/sqlite.js';

/** One line: `whiteroom-store 0.1.0, schema version 6, SQLite 3.50.4`. */
export function versionLine(): string {
  const addon = loadEmbeddedAddon();
  if (addon) setNativeBinding(addon);
  const db = connect(':memory:');
  try {
    const sqlite = db.prepare('SELECT sqlite_version()').pluck().get() as string;
    const schema = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
    return `whiteroom-store ${OPENRPC_DOCUMENT.info.version}, schema version ${schema}, SQLite ${sqlite}`;
  } finally {
    db.close();
  }
}
