#!/usr/bin/env node
// Thin launcher: the command line is bundled into dist/cli-bundle/ by `npm run build` (run by
// `npm install`); see scripts/bundle-cli.mjs.
import { runCli } from '../dist/cli-bundle/main.js';

runCli(process.argv.slice(2));
