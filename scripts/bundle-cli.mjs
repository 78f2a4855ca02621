#!/usr/bin/env node
// Part of `npm run build`: the command line as one ES module bundle in dist/cli-bundle/, which
// bin/qget.js loads. Start-up is a large share of a short download's time: one file instead of
// some 150 modules to resolve and read, and undici without the parts the command line never
// uses (scripts/undici-lite.mjs). The daemon, the input-file reader and the run modes stay in
// their own chunks, loaded only when used; so do the farm's commands, whose BullMQ stays in
// node_modules. The library (dist/index.js) is tsc's output.

import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleDefines, thirdPartyNotices, undiciLite } from './bundle.mjs';
import { buildWeb, webPlugin } from './build-web.mjs';

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'cli-bundle');
const pkg = require(join(root, 'package.json'));

let esbuild;
try {
  esbuild = require('esbuild');
} catch (err) {
  console.error(`bundle-cli: cannot load esbuild (${err.message}); run \`npm install\` first.`);
  process.exit(1);
}

rmSync(outdir, { recursive: true, force: true });
let web;
try {
  web = await buildWeb(esbuild, root);
} catch (err) {
  console.error(`bundle-cli: the daemon's web page: ${err.message}`);
  process.exit(1);
}
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { main: join(root, 'src/cli/main.ts') },
  outdir,
  bundle: true,
  splitting: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // undici, commander and ws are CommonJS: their require() of Node's modules needs a real one.
  banner: {
    js: "import { createRequire as __qgetRequire } from 'node:module'; const require = __qgetRequire(import.meta.url);",
  },
  define: bundleDefines(pkg.version),
  plugins: [undiciLite, webPlugin(web)],
  // The farm's commands (a chunk of their own) load BullMQ from node_modules: a dependency.
  external: ['bullmq'],
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
if (result.warnings.length > 0) {
  console.error('bundle-cli: esbuild printed warnings; the bundle must build cleanly.');
  process.exit(1);
}
writeFileSync(
  join(outdir, 'THIRD-PARTY-NOTICES.txt'),
  thirdPartyNotices(
    result.metafile,
    root,
    `The qget ${pkg.version} command line bundle. qget is licensed under ${pkg.license} (see LICENSE);\nthese npm packages are compiled into it:\n`,
  ),
);
