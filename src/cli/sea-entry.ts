// Entry point of the standalone executable (scripts/build-exe.mjs bundles it with esbuild into
// one CommonJS script for Node's single executable application support). It does what
// bin/qget.js does, but imports the sources directly so the bundle needs no dist/ and no
// node_modules at run time.

import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    console.error(`qget: internal error: ${text}`);
    process.exitCode = 1;
  },
);
