/**
 * whiteroom-store's typed client: `import { WhiteroomClient } from 'whiteroom-store'`.
 * See docs/client.md.
 */
export {
  WhiteroomClient,
  DEFAULT_ENTRY,
  type AnswerInfo,
  type CallArgs,
  type ClientEvents,
  type ClientOptions,
  type CloseOptions,
  type ConnectOptions,
  type Exit,
  type OptionsFor,
  type SpawnOptions,
} from './client.js';
export { WhiteroomError, WhiteroomConnectionError, type ConnectionFailure, type ErrorData } from './errors.js';
export type { CallOptions, Progress, ProgressCallOptions, ProgressParams } from './options.js';
export type { Framing } from './framing.js';
export { ErrorCode, ERROR_MESSAGES } from '../generated/errors.js';
export { METHOD_FAMILIES, NOTIFICATION_NAMES, PROGRESS_METHODS } from '../generated/client.js';
export type * from '../generated/client.js';
export type * from '../generated/types.js';
