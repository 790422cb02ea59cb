/** Timers the services use, injectable so tests can drive time (@sinonjs/fake-timers in the unit tests). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unref'd: a pending autosave or checkpoint never keeps the process alive on its own. */
export const nodeTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Where background work runs: the server's queue once there is one, so it never interleaves with a request. */
export type Runner = (job: () => void) => void;

export const runNow: Runner = (job) => job();
