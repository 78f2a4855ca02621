// What every CLI mode does with the process: abort on SIGINT/SIGTERM (a second signal exits at
// once) and one sentence for an error (a stack only with --debug).

import { redactUrls } from '../index.js';
import { EXIT } from './exit-codes.js';

/** Abort on SIGINT/SIGTERM; a second signal exits at once. Returns a disposer. */
export function abortOnSignals(controller: AbortController, onFirst: () => void): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? EXIT.interrupted : 143);
    onFirst();
    controller.abort(new Error(`received ${signal}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** One error as printed; a URL's password in it (a cause's, say) shows as `user:***@`. */
export function describeError(err: unknown, debug: boolean): string {
  if (debug && err instanceof Error && err.stack) {
    const cause =
      err.cause instanceof Error ? `\ncaused by: ${err.cause.stack ?? err.cause.message}` : '';
    return redactUrls(`${err.stack}${cause}`);
  }
  return redactUrls(err instanceof Error ? err.message : String(err));
}
