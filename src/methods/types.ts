/** Handler types derived from the method schemas (src/generated/types.ts). */
import type { MethodMap, MethodName } from '../generated/types.js';
import type { RequestContext } from '../rpc/dispatcher.js';

export type Params<M extends MethodName> = MethodMap[M]['params'];
export type Result<M extends MethodName> = MethodMap[M]['result'];

/** A handler: validated params in, the method's result (or a promise of it) out. */
export type TypedHandler<M extends MethodName> = (params: Params<M>, ctx: RequestContext) => Result<M> | Promise<Result<M>>;

/** The handlers of one family: every method whose name starts with `Family.`, and no other. */
export type FamilyHandlers<Family extends string> = {
  [M in MethodName as M extends `${Family}.${string}` ? M : never]: TypedHandler<M>;
};

/** Every method's handler. The compiler checks that none is missing. */
export type AllHandlers = { [M in MethodName]: TypedHandler<M> };
