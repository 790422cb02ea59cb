/**
 * Dispatch (src/rpc/dispatcher.ts) with small fake methods: JSON-RPC 2.0 semantics and error mapping.
 */
import { expect } from 'chai';
import {
  Dispatcher,
  paramErrors,
  type MethodEntry,
  type RequestContext,
  type Response,
  type ValidationError,
  type Validator,
} from '../../src/rpc/dispatcher.js';
import { RpcError, ErrorCode } from '../../src/errors.js';
import { sleep } from '../helpers/check.js';

/** A validator that reports the errors `check` returns (none: valid). */
function validator(check: (data: unknown) => ValidationError[] = () => []): Validator {
  const v = ((data: unknown) => {
    const errors = check(data);
    v.errors = errors.length ? errors : null;
    return errors.length === 0;
  }) as Validator;
  return v;
}

const method = (name: string, handler: (params: any, ctx: RequestContext) => unknown, validate = validator()): MethodEntry => ({
  name,
  validate,
  handler: handler as MethodEntry['handler'],
});

const req = (id: unknown, m: string, params?: unknown): Record<string, unknown> =>
  params === undefined ? { jsonrpc: '2.0', id, method: m } : { jsonrpc: '2.0', id, method: m, params };
const note = (m: string, params?: unknown): Record<string, unknown> =>
  params === undefined ? { jsonrpc: '2.0', method: m } : { jsonrpc: '2.0', method: m, params };


describe('dispatcher: requests and notifications', () => {
  let calls: unknown[];
  let d: Dispatcher;
  beforeEach(() => {
    calls = [];
    d = new Dispatcher([
      method('echo', (p) => {
        calls.push(p);
        return p;
      }),
      method('nothing', () => undefined),
    ]);
  });

  it('answers a request synchronously with its id and the handler result', () => {
    const r = d.handle(req(7, 'echo', { a: 1 }));
    expect(r).to.not.be.instanceOf(Promise);
    expect(r).to.deep.equal({ jsonrpc: '2.0', id: 7, result: { a: 1 } });
    expect(d.handle(req('s-1', 'echo', {}))).to.deep.equal({ jsonrpc: '2.0', id: 's-1', result: {} });
    expect(d.handle(req(null, 'echo', {}))).to.deep.equal({ jsonrpc: '2.0', id: null, result: {} });
  });

  it('omitted params reach the handler as an empty object; an undefined result is null', () => {
    expect(d.handle(req(1, 'echo'))).to.deep.equal({ jsonrpc: '2.0', id: 1, result: {} });
    expect(d.handle(req(2, 'nothing'))).to.deep.equal({ jsonrpc: '2.0', id: 2, result: null });
  });

  it('a notification runs the handler and answers nothing', () => {
    expect(d.handle(note('echo', { n: 1 }))).to.equal(undefined);
    expect(calls).to.deep.equal([{ n: 1 }]);
  });

  it('a notification of an unknown method or with bad params answers nothing', () => {
    expect(d.handle(note('missing'))).to.equal(undefined);
    expect(d.handle(note('echo', [1, 2]))).to.equal(undefined);
    expect(calls).to.deep.equal([]);
  });

  it('an unknown method is -32601 naming it', () => {
    expect(d.handle(req(3, 'songs.nope'))).to.deep.equal({
      jsonrpc: '2.0',
      id: 3,
      error: { code: -32601, message: 'Method not found: songs.nope', data: { method: 'songs.nope' } },
    });
  });

  it('$/ notifications that are not implemented are ignored, but a $/ request is -32601', () => {
    expect(d.handle(note('$/setTrace', { value: 'off' }))).to.equal(undefined);
    expect((d.handle(req(4, '$/whatever')) as Response).error!.code).to.equal(-32601);
  });

  it('lists the method names it serves', () => {
    expect(d.methodNames).to.deep.equal(['echo', 'nothing']);
  });
});

describe('dispatcher: invalid requests (-32600)', () => {
  const d = new Dispatcher([method('echo', (p) => p)]);
  const invalid = (msg: unknown): Response => d.handle(msg) as Response;

  it('a message that is not an object is -32600 with id null', () => {
    for (const msg of [1, 'text', null, true]) {
      const r = invalid(msg);
      expect(r.id, JSON.stringify(msg)).to.equal(null);
      expect(r.error!.code).to.equal(-32600);
      expect(r).to.not.have.property('result');
    }
  });

  it('a missing or wrong jsonrpc version, or a method that is not a string, is -32600 keeping a valid id', () => {
    expect(invalid({ id: 1, method: 'echo' })).to.deep.include({ id: 1 });
    expect(invalid({ id: 1, method: 'echo' }).error!.code).to.equal(-32600);
    expect(invalid({ jsonrpc: '1.0', id: 'x', method: 'echo' }).id).to.equal('x');
    expect(invalid({ jsonrpc: '1.0', id: 'x', method: 'echo' }).error!.code).to.equal(-32600);
    expect(invalid({ jsonrpc: '2.0', id: 2, method: 5 }).error!.code).to.equal(-32600);
    expect(invalid({ jsonrpc: '2.0', id: 2 }).error!.code).to.equal(-32600);
    expect(invalid({ jsonrpc: '2.0', id: { bad: 1 }, method: 5 }).id).to.equal(null);
  });

  it('an id that is not a string, number or null is -32600 with id null', () => {
    for (const id of [{}, [1], true, Number.POSITIVE_INFINITY]) {
      const r = invalid({ jsonrpc: '2.0', id, method: 'echo' });
      expect(r.error!.code).to.equal(-32600);
      expect(r.id).to.equal(null);
    }
  });

  it('an empty batch is one -32600 response, not an array', () => {
    const r = d.handle([]);
    expect(Array.isArray(r)).to.equal(false);
    expect((r as Response).error!.code).to.equal(-32600);
    expect((r as Response).id).to.equal(null);
  });
});

describe('dispatcher: batches', () => {
  it('answers every request of a batch in order, skips notifications, and answers invalid members', () => {
    const seen: unknown[] = [];
    const d = new Dispatcher([
      method('echo', (p) => {
        seen.push(p);
        return p;
      }),
    ]);
    const r = d.handle([req(1, 'echo', { a: 1 }), note('echo', { n: true }), 42, req('two', 'missing'), req(3, 'echo', [1])]);
    expect(r).to.be.an('array');
    const rs = r as Response[];
    expect(rs.map((x) => x.id)).to.deep.equal([1, null, 'two', 3]);
    expect(rs[0]).to.deep.equal({ jsonrpc: '2.0', id: 1, result: { a: 1 } });
    expect(rs[1]!.error!.code).to.equal(-32600);
    expect(rs[2]!.error!.code).to.equal(-32601);
    expect(rs[3]!.error!.code).to.equal(-32602);
    expect(seen).to.deep.equal([{ a: 1 }, { n: true }]);
  });

  it('a batch of notifications only answers nothing', () => {
    const d = new Dispatcher([method('echo', (p) => p)]);
    expect(d.handle([note('echo'), note('echo', { x: 1 })])).to.equal(undefined);
  });

  it('a batch of invalid members answers one -32600 per member', () => {
    const d = new Dispatcher([method('echo', (p) => p)]);
    const r = d.handle([1, 2, 3]) as Response[];
    expect(r).to.have.length(3);
    for (const x of r) {
      expect(x.id).to.equal(null);
      expect(x.error!.code).to.equal(-32600);
    }
  });

  it('batch members run one after another, an async member holding back the ones after it', async () => {
    const log: string[] = [];
    const d = new Dispatcher([
      method('slow', async () => {
        log.push('slow start');
        await sleep(20);
        log.push('slow end');
        return 'slow';
      }),
      method('fast', () => {
        log.push('fast');
        return 'fast';
      }),
    ]);
    const pending = d.handle([req(1, 'fast'), req(2, 'slow'), note('fast'), req(3, 'fast')]);
    expect(pending).to.be.instanceOf(Promise);
    const r = (await pending) as Response[];
    expect(log).to.deep.equal(['fast', 'slow start', 'slow end', 'fast', 'fast']);
    expect(r).to.deep.equal([
      { jsonrpc: '2.0', id: 1, result: 'fast' },
      { jsonrpc: '2.0', id: 2, result: 'slow' },
      { jsonrpc: '2.0', id: 3, result: 'fast' },
    ]);
  });
});

describe('dispatcher: params validation (-32602)', () => {
  it('params given as an array are -32602 at the root', () => {
    const handled: unknown[] = [];
    const d = new Dispatcher([method('echo', (p) => handled.push(p))]);
    const r = d.handle(req(1, 'echo', [1, 2])) as Response;
    expect(r.error!.code).to.equal(-32602);
    expect(r.error!.data).to.deep.equal({ errors: [{ path: '', message: 'params must be an object of named parameters' }] });
    expect((d.handle(req(2, 'echo', 'str')) as Response).error!.code).to.equal(-32602);
    expect((d.handle(req(3, 'echo', null)) as Response).error!.code).to.equal(-32602);
    expect(handled).to.deep.equal([]);
  });

  it("a validator's errors become -32602 with {errors: [{path, message}]} and the handler is not called", () => {
    let called = false;
    const v = validator((data) =>
      (data as Record<string, unknown>).name === undefined
        ? [
            { instancePath: '/item', keyword: 'required', params: { missingProperty: 'name' }, message: "must have required property 'name'" },
            { instancePath: '/item', keyword: 'additionalProperties', params: { additionalProperty: 'colour' }, message: 'must NOT have additional properties' },
          ]
        : [],
    );
    const d = new Dispatcher([
      method(
        'songs.create',
        () => {
          called = true;
        },
        v,
      ),
    ]);
    const r = d.handle(req(9, 'songs.create', { item: {} })) as Response;
    expect(called).to.equal(false);
    expect(r).to.deep.equal({
      jsonrpc: '2.0',
      id: 9,
      error: {
        code: -32602,
        message: 'Invalid params: /item/name is required (and 1 more)',
        data: {
          errors: [
            { path: '/item/name', message: 'is required' },
            { path: '/item/colour', message: 'is not a known field' },
          ],
        },
      },
    });
    expect(d.handle(req(10, 'songs.create', { name: 'ok' }))).to.deep.equal({ jsonrpc: '2.0', id: 10, result: null });
  });
});

describe('dispatcher: paramErrors', () => {
  const e = (instancePath: string, keyword: string, params: Record<string, unknown>, message?: string): ValidationError =>
    message === undefined ? { instancePath, keyword, params } : { instancePath, keyword, params, message };

  it('additionalProperties names the field under its object: path/field, "is not a known field"', () => {
    expect(paramErrors([e('', 'additionalProperties', { additionalProperty: 'bogus' }, 'must NOT have additional properties')])).to.deep.equal([
      { path: '/bogus', message: 'is not a known field' },
    ]);
    expect(paramErrors([e('/item/metadata', 'additionalProperties', { additionalProperty: 'bpm' })])).to.deep.equal([
      { path: '/item/metadata/bpm', message: 'is not a known field' },
    ]);
  });

  it('required names the missing field: path/field, "is required"', () => {
    expect(paramErrors([e('/item', 'required', { missingProperty: 'name' }, "must have required property 'name'")])).to.deep.equal([
      { path: '/item/name', message: 'is required' },
    ]);
  });

  it('escapes ~ and / in field names as JSON pointers do (~0, ~1)', () => {
    expect(paramErrors([e('/item', 'additionalProperties', { additionalProperty: 'a/b~c' })])).to.deep.equal([
      { path: '/item/a~1b~0c', message: 'is not a known field' },
    ]);
    expect(paramErrors([e('', 'required', { missingProperty: '~/' })])).to.deep.equal([{ path: '/~0~1', message: 'is required' }]);
  });

  it('enum lists the allowed values; const names the one value', () => {
    expect(
      paramErrors([e('/orderBy', 'enum', { allowedValues: ['updatedAt', 'createdAt', 'name'] }, 'must be equal to one of the allowed values')]),
    ).to.deep.equal([{ path: '/orderBy', message: 'must be one of "updatedAt", "createdAt", "name"' }]);
    expect(paramErrors([e('/v', 'const', { allowedValue: 2 }, 'must be equal to constant')])).to.deep.equal([
      { path: '/v', message: 'must be 2' },
    ]);
  });

  it("other keywords keep ajv's message, or the keyword when there is none", () => {
    expect(paramErrors([e('/limit', 'maximum', { limit: 1000 }, 'must be <= 1000'), e('/x', 'type', { type: 'string' })])).to.deep.equal([
      { path: '/limit', message: 'must be <= 1000' },
      { path: '/x', message: 'type' },
    ]);
  });

  it('drops duplicates (same path and message) and keeps the order of the rest', () => {
    const errs = [
      e('/a', 'type', {}, 'must be string'),
      e('/b', 'type', {}, 'must be string'),
      e('/a', 'type', {}, 'must be string'),
      e('', 'required', { missingProperty: 'a' }),
      e('', 'required', { missingProperty: 'a' }),
    ];
    expect(paramErrors(errs)).to.deep.equal([
      { path: '/a', message: 'must be string' },
      { path: '/b', message: 'must be string' },
      { path: '/a', message: 'is required' },
    ]);
  });
});

describe('dispatcher: errors thrown by handlers', () => {
  it('a thrown RpcError is answered as it is, code, message and data, without mapError', () => {
    let mapped = 0;
    const d = new Dispatcher([method('get', () => {
      throw new RpcError(ErrorCode.NotFound, 'songs: no record with id "x"', { entity: 'songs', id: 'x' });
    })], { mapError: () => (mapped++, undefined) });
    expect(d.handle(req(1, 'get', { id: 'x' }))).to.deep.equal({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32001, message: 'songs: no record with id "x"', data: { entity: 'songs', id: 'x' } },
    });
    expect(mapped).to.equal(0);
  });

  it('an RpcError without data has no data member', () => {
    const d = new Dispatcher([method('x', () => {
      throw new RpcError(ErrorCode.ShuttingDown);
    })]);
    expect(d.handle(req(1, 'x'))).to.deep.equal({ jsonrpc: '2.0', id: 1, error: { code: -32030, message: 'Shutting down' } });
  });

  it('other errors go through mapError first', () => {
    class Busy extends Error {}
    const internal: unknown[] = [];
    const d = new Dispatcher([method('w', () => {
      throw new Busy('locked');
    })], {
      mapError: (err) => (err instanceof Busy ? new RpcError(ErrorCode.StorageBusy, 'busy') : undefined),
      onInternalError: (err) => internal.push(err),
    });
    expect(d.handle(req(1, 'w'))).to.deep.equal({ jsonrpc: '2.0', id: 1, error: { code: -32011, message: 'busy' } });
    expect(internal).to.deep.equal([]);
  });

  it('an error nothing maps is -32603 and onInternalError is told the error and the method', () => {
    const internal: [unknown, string | undefined][] = [];
    const boom = new TypeError('x is not a function');
    const d = new Dispatcher([method('bug', () => {
      throw boom;
    }), method('str', () => {
      throw 'a string';
    })], { mapError: () => undefined, onInternalError: (err, m) => internal.push([err, m]) });
    const r = d.handle(req(1, 'bug')) as Response;
    expect(r.error!.code).to.equal(-32603);
    expect(r.error!.message).to.include('x is not a function');
    expect(r.id).to.equal(1);
    const s = d.handle(req(2, 'str')) as Response;
    expect(s.error!.code).to.equal(-32603);
    expect(s.error!.message).to.include('a string');
    expect(internal).to.deep.equal([[boom, 'bug'], ['a string', 'str']]);
  });

  it('an error thrown by a notification handler answers nothing but is still reported', () => {
    const internal: unknown[] = [];
    const d = new Dispatcher([method('bug', () => {
      throw new Error('oops');
    })], { onInternalError: (err) => internal.push(err) });
    expect(d.handle(note('bug'))).to.equal(undefined);
    expect(internal).to.have.length(1);
  });
});

describe('dispatcher: async handlers', () => {
  it('a handler returning a promise is answered when it resolves', async () => {
    const d = new Dispatcher([method('later', async (p) => {
      await sleep(5);
      return { got: p };
    })]);
    const pending = d.handle(req(1, 'later', { a: 1 }));
    expect(pending).to.be.instanceOf(Promise);
    expect(await pending).to.deep.equal({ jsonrpc: '2.0', id: 1, result: { got: { a: 1 } } });
  });

  it('a rejected promise is mapped like a thrown error', async () => {
    const internal: unknown[] = [];
    const d = new Dispatcher([
      method('rpc', async () => {
        throw new RpcError(ErrorCode.Conflict, 'changed', { entity: 'songs', id: 'a', expected: 1, actual: 2 });
      }),
      method('bug', async () => {
        throw new Error('async bug');
      }),
    ], { onInternalError: (err) => internal.push(err) });
    expect(await d.handle(req(1, 'rpc'))).to.deep.equal({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32002, message: 'changed', data: { entity: 'songs', id: 'a', expected: 1, actual: 2 } },
    });
    const r = (await d.handle(req(2, 'bug'))) as Response;
    expect(r.error!.code).to.equal(-32603);
    expect(internal).to.have.length(1);
  });

  it('an async notification resolves to nothing', async () => {
    let ran = false;
    const d = new Dispatcher([method('later', async () => {
      await sleep(1);
      ran = true;
      return 1;
    })]);
    expect(await d.handle(note('later'))).to.equal(undefined);
    expect(ran).to.equal(true);
  });
});

describe('dispatcher: cancellation and refusal', () => {
  it('a request cancelled before it starts is -32800 and its handler never runs; the id can be reused', () => {
    let runs = 0;
    const d = new Dispatcher([method('work', () => ++runs)]);
    d.cancel(5);
    expect(d.handle(req(5, 'work'))).to.deep.equal({
      jsonrpc: '2.0',
      id: 5,
      error: { code: -32800, message: 'Request cancelled before it started' },
    });
    expect(runs).to.equal(0);
    expect(d.handle(req(5, 'work'))).to.deep.equal({ jsonrpc: '2.0', id: 5, result: 1 });
  });

  it('cancelling one id does not touch the others', () => {
    const d = new Dispatcher([method('work', () => 'done')]);
    d.cancel('a');
    expect(d.handle(req('b', 'work'))).to.deep.equal({ jsonrpc: '2.0', id: 'b', result: 'done' });
    expect((d.handle(req('a', 'work')) as Response).error!.code).to.equal(-32800);
  });

  it('a running async handler sees ctx.cancelled turn true when its request is cancelled', async () => {
    let gate!: () => void;
    const opened = new Promise<void>((r) => (gate = r));
    const d = new Dispatcher([
      method('long', async (_p, ctx) => {
        const before = ctx.cancelled;
        await opened;
        if (ctx.cancelled) throw new RpcError(ErrorCode.RequestCancelled, 'stopped', undefined);
        return before;
      }),
    ]);
    const pending = d.handle(req(8, 'long'));
    d.cancel(8);
    gate();
    expect(await pending).to.deep.equal({ jsonrpc: '2.0', id: 8, error: { code: -32800, message: 'stopped' } });
    // Finished: the cancellation is forgotten, the id can be used again.
    const again = d.handle(req(8, 'long'));
    expect(await again).to.deep.equal({ jsonrpc: '2.0', id: 8, result: false });
  });

  it('after refuseAll every request is answered that error and no handler runs; notifications get nothing', () => {
    let runs = 0;
    const d = new Dispatcher([method('work', () => ++runs)]);
    d.refuseAll(new RpcError(ErrorCode.ShuttingDown, 'The store is shutting down; no new requests are taken'));
    const refusal = { code: -32030, message: 'The store is shutting down; no new requests are taken' };
    expect(d.handle(req(1, 'work'))).to.deep.equal({ jsonrpc: '2.0', id: 1, error: refusal });
    expect(d.handle(req('x', 'unknown.method'))).to.deep.equal({ jsonrpc: '2.0', id: 'x', error: refusal });
    expect(d.handle(req(2, 'work', [1]))).to.deep.equal({ jsonrpc: '2.0', id: 2, error: refusal });
    expect(d.handle(note('work'))).to.equal(undefined);
    expect(d.handle([req(3, 'work'), req(4, 'work')])).to.deep.equal([
      { jsonrpc: '2.0', id: 3, error: refusal },
      { jsonrpc: '2.0', id: 4, error: refusal },
    ]);
    expect(runs).to.equal(0);
  });
});
