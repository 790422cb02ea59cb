/**
 * The text each message arrived as, kept beside the parsed message (a WeakMap: it goes when the
 * message goes). A handler that must store a large part of its params verbatim (autosave.stage)
 * stores this text instead of serialising the parsed value again.
 */
const TEXT = new WeakMap<object, string>();

/** Records that `message` was parsed from `text`. */
export function rememberText(message: unknown, text: string): void {
  if (typeof message === 'object' && message !== null) TEXT.set(message, text);
}

/** The text `message` was parsed from, when the transport kept it. */
export function textOf(message: unknown): string | undefined {
  return typeof message === 'object' && message !== null ? TEXT.get(message) : undefined;
}
