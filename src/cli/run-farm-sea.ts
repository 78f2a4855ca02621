// What the standalone executable (scripts/build-exe.mjs) runs for `qget enqueue | worker | queue`:
// BullMQ and its Redis client are not compiled into it, so the farm's commands come with the npm
// package only.

import type { Io } from './cli-options.js';
import { EXIT } from './exit-codes.js';

export async function runFarm(command: string, _args: string[], io: Io): Promise<number> {
  io.stderr.write(
    `qget ${command}: the download farm is not part of the standalone executable; install the npm package (npm install -g qget) to use it.\n`,
  );
  return EXIT.usage;
}
