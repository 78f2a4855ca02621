#!/usr/bin/env node
// Thin launcher: the command line is bundled into dist/cli-bundle/ by `npm run build` (run by
// `npm pack`/`npm publish` through `prepack`, so the tarball ships it and installs run no
// script; see scripts/bundle-cli.mjs). In a git clone dist/ is built here on the first run.
import { existsSync } from 'node:fs';

// No module compile cache (Node 22+'s module.enableCompileCache()): measured on Node 20, 22 and
// 24, it shortened neither `--version` (156-171 ms) nor a 64 KiB download (199-288 ms) by more
// than the noise (2%), and it writes a cache folder under the system's temporary folder.

const bundle = new URL('../dist/cli-bundle/main.js', import.meta.url);
if (!existsSync(bundle) && existsSync(new URL('../src/cli/main.ts', import.meta.url))) {
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  process.stderr.write('qget: first run from a source checkout: building dist/ (npm run build)\n');
  const windows = process.platform === 'win32';
  execFileSync(windows ? 'npm.cmd' : 'npm', ['run', '--silent', 'build'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'ignore', 'inherit'],
    shell: windows,
  });
}
const { runCli } = await import(bundle.href);

runCli(process.argv.slice(2));
