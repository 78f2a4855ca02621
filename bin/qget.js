#!/usr/bin/env node
// Thin launcher: the command line lives in dist/cli/main.js (built by `npm install`).
import { runCli } from '../dist/cli/main.js';

runCli(process.argv.slice(2));
