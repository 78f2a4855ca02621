// Entry point of the standalone executable (scripts/build-exe.mjs bundles it with esbuild into
// one CommonJS script for Node's single executable application support). It does what
// bin/qget.js does, but imports the sources directly so the bundle needs no dist/ and no
// node_modules at run time.

import { runCli } from './main.js';

runCli(process.argv.slice(2));
