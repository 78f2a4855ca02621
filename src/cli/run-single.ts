// One URL from the command line: qget() with a progress view, Ctrl-C that saves state and
// exits 130, optional whole-download restarts (--retry-wait), and the closing summary.

import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortError,
  formatBytes,
  isQgetError,
  type QgetOptions,
  type QgetResult,
  qget,
} from '../index.js';
import type { CliOptions, Io } from './cli-options.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { abortOnSignals, describeError } from './process.js';
import { progressOnStderr } from './progress-view.js';
import { canResume, interruptedNote } from './resume-note.js';

export async function runSingle(
  url: string,
  options: QgetOptions,
  cli: CliOptions,
  io: Io,
  download: (url: string, options: QgetOptions) => Promise<QgetResult> = qget,
): Promise<number> {
  const { view, progress } = progressOnStderr(io, cli.quiet);
  const controller = new AbortController();
  const dispose = abortOnSignals(controller, () => view.finish());
  const debug = cli.debug
    ? (message: string) => {
        view.finish();
        io.stderr.write(`qget: ${message}\n`);
      }
    : undefined;
  // With --debug the same line is already in the debug output.
  const onWarning =
    cli.quiet || cli.debug
      ? undefined
      : (message: string) => {
          view.finish();
          io.stderr.write(`qget: ${message}\n`);
        };
  try {
    for (;;) {
      try {
        const result = await download(url, {
          ...options,
          progress,
          signal: controller.signal,
          debug,
          onWarning,
        });
        view.finish();
        if (!cli.quiet) io.stderr.write(`${summary(result)}\n`);
        return EXIT.ok;
      } catch (err) {
        view.finish();
        const retry =
          cli.retryWait >= 0 && isQgetError(err) && err.transient && !controller.signal.aborted;
        if (!retry) throw err;
        io.stderr.write(
          `qget: ${describeError(err, cli.debug)}; restarting in ${cli.retryWait} s\n`,
        );
        await sleep(cli.retryWait * 1000, undefined, { signal: controller.signal }).catch(() => {});
        // Interrupted while waiting: the state of the failed run is saved; say so, exit 130.
        if (controller.signal.aborted) throw new AbortError(undefined, { cause: err });
      }
    }
  } catch (err) {
    view.finish();
    const code = isQgetError(err) ? exitCodeFor(err.code) : EXIT.internal;
    if (code === EXIT.interrupted) {
      const resumable = await canResume(progress.path, options.tmpDir);
      io.stderr.write(`qget: interrupted; ${interruptedNote(resumable ? 1 : 0, 1)}\n`);
    } else {
      io.stderr.write(`qget: error: ${describeError(err, cli.debug || code === EXIT.internal)}\n`);
    }
    return code;
  } finally {
    dispose();
  }
}

function summary(result: QgetResult): string {
  const seconds = result.elapsedMs / 1000;
  const rate = seconds > 0 ? (result.size - result.resumedBytes) / seconds : 0;
  const resumed = result.resumedBytes > 0 ? `, ${formatBytes(result.resumedBytes)} resumed` : '';
  const plural = result.connections === 1 ? '' : 's';
  return `saved ${result.path} (${formatBytes(result.size)} in ${seconds.toFixed(1)} s, ${formatBytes(rate)}/s, ${result.connections} connection${plural}${resumed})`;
}
