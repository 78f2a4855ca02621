#!/usr/bin/env node
// Thin launcher: the command line lives in dist/cli/main.js (built by `npm install`).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`qget: internal error: ${err?.stack ?? err}`);
    process.exitCode = 1;
  },
);
