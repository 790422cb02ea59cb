/** Options of one call, and the progress a long operation reports. */

/** One `$/progress` value (LSP's work-done progress), as the sidecar sends it. */
export interface Progress {
  kind: 'begin' | 'report' | 'end';
  /** 0–100; never goes back within one operation. */
  percentage?: number;
  message?: string;
}

/** The params of a `$/progress` notification. */
export interface ProgressParams {
  token: string | number;
  value: Progress;
}

export interface CallOptions {
  /**
   * Aborting sends `$/cancelRequest` for the call. The promise then settles with the sidecar's
   * answer: rejected with a WhiteroomError of code -32800 (`name` "AbortError") when the request
   * was stopped (nothing was written), or resolved as usual when it had already finished. A
   * signal aborted before the call rejects at once, and nothing is sent.
   */
  signal?: AbortSignal;
}

export interface ProgressCallOptions extends CallOptions {
  /**
   * Called with each `$/progress` of this call (begin, reports, end). The client puts a
   * `workDoneToken` of its own in the params unless they carry one.
   */
  onProgress?: (progress: Progress) => void;
}
