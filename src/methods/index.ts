/**
 * Every method the sidecar serves, in one list: its name, its params validator (compiled at
 * build time from rpc-schema/), its handler. A method exists when its schema exists; the
 * compiler refuses a schema without a handler (AllHandlers).
 */
import { METHOD_NAMES } from '../generated/types.js';
import * as validators from '../generated/validators.js';
import * as resultValidators from '../generated/result-validators.js';
import type { MethodEntry, Validator } from '../rpc/dispatcher.js';
import type { Services } from './services.js';
import type { AllHandlers } from './types.js';
import { songsMethods } from './songs.js';
import { performancesMethods } from './performances.js';
import { instrumentsMethods, presetsMethods, voicesMethods } from './instruments.js';
import { preferencesMethods, recentMethods } from './preferences.js';
import { discover, systemMethods } from './system.js';
import { autosaveMethods } from './autosave.js';
import { backupMethods } from './backup.js';
import { exportMethods, importMethods } from './transfer.js';
import { historyMethods } from './history.js';

/** The methods historyMethods serves. */
type HistoryMethod = Extract<keyof AllHandlers, `${'songs' | 'performances'}.${'history' | 'getVersion' | 'restoreVersion' | 'diff' | 'saveVersion' | 'labelVersion'}` | `trash.${string}` | 'history.configure'>;

const validatorFor = (table: object, method: string, part: 'params' | 'result'): Validator => {
  const v = (table as Record<string, Validator | undefined>)[`${method.replace(/\./g, '_')}__${part}`];
  if (!v) throw new Error(`no ${part} validator for ${method}: run npm run gen`);
  return v;
};

/**
 * Long operations that let the requests behind them be served while they run: a backup copies the
 * database file on libuv's thread pool under a snapshot that keeps checkpoints off it (writes made
 * meanwhile go to the WAL, not into the copy: it is the state when it began), or, as a fallback,
 * with SQLite's online backup a step at a time (writes between its steps are carried into the
 * copy: it is the state when it completes). Either way the backup is consistent.
 */
const BESIDE_THE_QUEUE: ReadonlySet<string> = new Set(['backup.create', 'export.full']);

export function buildMethods(s: Services): MethodEntry[] {
  const handlers: AllHandlers = {
    ...songsMethods(s),
    ...performancesMethods(s),
    ...instrumentsMethods(s),
    ...voicesMethods(s),
    ...presetsMethods(s),
    ...preferencesMethods(s),
    ...recentMethods(s),
    ...autosaveMethods(s),
    ...backupMethods(s),
    ...exportMethods(s),
    ...importMethods(s),
    ...systemMethods(s),
    ...(historyMethods(s) as unknown as Pick<AllHandlers, HistoryMethod>),
    'rpc.discover': discover,
  };
  return METHOD_NAMES.map((name) => ({
    name,
    validate: validatorFor(validators, name, 'params'),
    handler: handlers[name] as MethodEntry['handler'],
    beside: BESIDE_THE_QUEUE.has(name),
  }));
}

/**
 * The result validator of a method (tests check every answer against it). Nothing in the sidecar
 * calls it, so the packaged binary (a bundle of what main.ts reaches) carries no result validator.
 */
export const resultValidator = (method: string): Validator => validatorFor(resultValidators, method, 'result');
