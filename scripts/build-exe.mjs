#!/usr/bin/env node
// `npm run build:exe`: build a standalone `qget` executable with Node's single executable
// application (SEA) support. Plain JavaScript, so it needs no build step.
//
//   npm run build:exe                      for this machine, with the Node running the script
//   npm run build:exe -- --target win-x64  for a named platform (repeatable; or --all), with the
//                                          pinned Node of scripts/exe-targets.mjs from the registry
//
//   0. tsc type-checks the sources (esbuild only strips types, it would bundle broken code).
//   1. esbuild bundles src/cli/sea-entry.ts (and commander, undici, everything) into ONE
//      CommonJS script, build/qget.cjs, with the package version compiled in.
//   2. build/sea-config.json → `node --experimental-sea-config` → build/sea-prep.blob. The blob
//      must be written by the Node version it is injected into (a Node 20 blob crashes Node 22),
//      so for --target builds the pinned Node for this machine writes it, without a V8 code
//      cache (a cache is only valid for the V8 and CPU that wrote it).
//   3. A copy of the Node binary becomes the executable; a macOS one has its signature removed
//      (with codesign on a Mac, with macho-unsign elsewhere).
//   4. postject injects the blob as the NODE_SEA_BLOB resource and flips the SEA fuse.
//   5. Built on a Mac, the result is signed again, ad hoc.
//
// Without --target the last line printed is the absolute path of build/qget (qget.exe). With
// --target the executables are build/exe/qget-<os-arch>[.exe], with build/exe/SHA256SUMS, and the
// last lines printed are their absolute paths, one per line.

import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleDefines, thirdPartyNotices, undiciLite } from './bundle.mjs';
import { buildWeb, webPlugin } from './build-web.mjs';
import {
  clearOutput,
  hostTarget,
  NODE_VERSION,
  nodeBinary,
  parseTargets,
  writeSums,
} from './exe-targets.mjs';

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(root, 'build');
const platform = process.platform;
const outDir = join(buildDir, 'exe');
// The registry tarballs and the Node binaries taken from them (build/ is not committed).
const cacheDir = process.env.QGET_NODE_CACHE || join(buildDir, 'node-cache');
const bundlePath = join(buildDir, 'qget.cjs');
const blobPath = join(buildDir, 'sea-prep.blob');
const configPath = join(buildDir, 'sea-config.json');
const noticesPath = join(buildDir, 'THIRD-PARTY-NOTICES.txt');
// The fuse Node's SEA documentation names (NODE_SEA_FUSE_…, with the underscore).
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function fail(message) {
  console.error(`build-exe: ${message}`);
  process.exit(1);
}

function step(message) {
  console.log(`build-exe: ${message}`);
}

function run(command, args, cwd = root) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd });
  if (result.error) fail(`${command} failed to start: ${result.error.message}`);
  if (result.status !== 0)
    fail(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 6)) {
  fail(`Node ${process.versions.node} cannot build a single executable; use Node 20.6 or later.`);
}
if (process.versions.bun || process.versions.deno) fail('run this with Node, not another runtime.');
let targets;
try {
  targets = parseTargets(process.argv.slice(2));
} catch (err) {
  fail(err.message);
}

// esbuild's JS API finds its native binary in the @esbuild/<platform> optional dependency, so it
// works even when npm did not run esbuild's postinstall script (npm 11 asks for approval first).
let esbuild;
try {
  esbuild = require('esbuild');
} catch (err) {
  fail(`cannot load esbuild (${err.message}). Run \`npm install\` (without --omit=dev/optional).`);
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
mkdirSync(buildDir, { recursive: true });

// 0. esbuild does not type-check; a missing import would only show as a ReferenceError at run time.
step('type-checking with tsc');
run(process.execPath, [
  join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc'),
  '--noEmit',
  '-p',
  'tsconfig.build.json',
]);

// The download farm (BullMQ, a Redis client with optional native parts) stays out of the
// executable: its commands resolve to src/cli/run-farm-sea.ts, which points to the npm package.
const farmLeftOut = {
  name: 'farm-left-out',
  setup(build) {
    build.onResolve({ filter: /^\.\/run-farm\.js$/ }, () => ({
      path: join(root, 'src/cli/run-farm-sea.ts'),
    }));
  },
};

// 1. One CommonJS script, nothing left to resolve from node_modules at run time.
step("building the daemon's web page");
let web;
try {
  web = await buildWeb(esbuild, root);
} catch (err) {
  fail(`the daemon's web page: ${err?.message ?? err}`);
}
step(`bundling ${pkg.name} ${pkg.version} with esbuild ${esbuild.version}`);
let bundle;
try {
  bundle = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [join(root, 'src/cli/sea-entry.ts')],
    outfile: bundlePath,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // import() of a built-in (node:tls, node:dns/promises, loaded only when a proxy needs them)
    // becomes a require: an executable with a code cache cannot run a real import().
    supported: { 'dynamic-import': false },
    // The version compiled in; ws kept from its optional native add-ons, which an executable
    // cannot load (and Node warns about trying).
    define: bundleDefines(pkg.version),
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: false,
    legalComments: 'none',
    metafile: true,
    plugins: [undiciLite, webPlugin(web), farmLeftOut],
    logLevel: 'warning',
    // src/version.ts reads package.json through import.meta.url only when __QGET_VERSION__ is
    // not defined; with the define that branch is dead (checked below), so its warning is noise.
    logOverride: { 'empty-import-meta': 'silent' },
  });
} catch (err) {
  const hint = /could not find|binary|ENOENT|install/i.test(String(err?.message))
    ? `\nIf the @esbuild/${platform}-${process.arch} package is missing, run \`npm install\` again ` +
      '(optional dependencies must not be omitted) or `npm rebuild esbuild`.'
    : '';
  fail(`esbuild failed: ${err?.message ?? err}${hint}`);
}
if (bundle.warnings.length > 0) fail('esbuild printed warnings; the bundle must build cleanly.');
const bundleText = readFileSync(bundlePath, 'utf8');
if (bundleText.includes('package.json')) {
  fail('the bundle still reads package.json at run time; is __QGET_VERSION__ defined?');
}
// With useCodeCache a real import() fails in the executable; esbuild must have inlined them all.
if (/(^|[^.\w$])import\(/m.test(bundleText)) fail('the bundle still contains a dynamic import()');
const externals = Object.values(bundle.metafile.inputs)
  .flatMap((input) => input.imports)
  // node:sqlite is not built into Node 20; undici requires it inside a try/catch.
  .filter((imp) => imp.external && !imp.path.startsWith('node:') && !isBuiltin(imp.path));
if (externals.length > 0) {
  fail(
    `the bundle would need these at run time: ${[...new Set(externals.map((i) => i.path))].join(', ')}`,
  );
}
writeNotices(bundle.metafile);

// Licences of the npm packages compiled into the executable (the executable is also Node itself).
function writeNotices(metafile) {
  const nodeTag = targets === null ? process.version : `v${NODE_VERSION}`;
  const header =
    `qget ${pkg.version} standalone executable. qget is licensed under ${pkg.license} (see LICENSE).\n` +
    `It is a copy of Node.js ${nodeTag} (license: https://github.com/nodejs/node/blob/${nodeTag}/LICENSE)\n` +
    'with these npm packages compiled in:\n';
  writeFileSync(noticesPath, thirdPartyNotices(metafile, root, header));
}

// 2. The preparation blob. Node runs in build/ with relative paths, so stack traces name the
// script "qget.cjs" rather than this machine's build folder.
function writeBlob(node, useCodeCache) {
  const seaConfig = {
    main: relative(buildDir, bundlePath),
    output: relative(buildDir, blobPath),
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache,
  };
  writeFileSync(configPath, `${JSON.stringify(seaConfig, null, 2)}\n`);
  rmSync(blobPath, { force: true });
  step(`writing the SEA blob (${relative(root, configPath)}) with ${node === process.execPath ? 'this' : 'the pinned'} Node`);
  run(node, ['--experimental-sea-config', configPath], buildDir);
  if (!existsSync(blobPath)) fail(`node did not write ${blobPath}`);
  return readFileSync(blobPath);
}

// 3.-5. One executable: a fresh copy of a Node binary with the blob inside.
async function makeExecutable(node, exePath, os, blob) {
  rmSync(exePath, { force: true });
  copyFileSync(node, exePath);
  chmodSync(exePath, 0o755);
  if (os === 'darwin') {
    step(`removing the macOS signature of ${relative(root, exePath)}`);
    if (platform === 'darwin') run('codesign', ['--remove-signature', exePath]);
    else {
      const { unsign } = await import('macho-unsign');
      const unsigned = unsign(readFileSync(exePath));
      if (unsigned) writeFileSync(exePath, Buffer.from(unsigned));
    }
  }
  // On Windows an Authenticode signature may be removed with `signtool remove /s qget.exe`;
  // Node's documentation calls that optional, and an unsigned copy works.
  const binary = readFileSync(exePath);
  if (!binary.includes(`${SENTINEL_FUSE}:0`)) {
    fail(
      `${node} has no unflipped SEA fuse (${SENTINEL_FUSE}); it is not an official ` +
        'Node build that supports single executables (some Linux distributions link Node to a shared libnode).',
    );
  }
  step(`injecting the blob into ${relative(root, exePath)} with postject`);
  const { inject } = require('postject');
  // On Linux, LIEF (inside postject) warns "Can't find string offset for section name '.note…'"
  // about Node's ELF note sections; the warnings are harmless (the injected binary runs), so they
  // are counted instead of printed. postject binds console.warn when inject() loads it.
  // For a Windows target it says "The signature seems corrupted!" about node.exe's Authenticode
  // signature, which the injection invalidates (see below): said once, in plain words.
  const warn = console.warn;
  let hidden = 0;
  let authenticode = false;
  console.warn = (...args) => {
    const text = String(args[0]);
    if (/^warning: Can't find string offset for section name/.test(text)) hidden++;
    else if (os === 'win' && /^warning: The signature seems corrupted/.test(text)) authenticode = true;
    else warn(...args);
  };
  try {
    await inject(exePath, 'NODE_SEA_BLOB', blob, {
      sentinelFuse: SENTINEL_FUSE,
      ...(os === 'darwin' ? { machoSegmentName: 'NODE_SEA' } : {}),
    });
  } catch (err) {
    fail(`postject failed: ${err?.message ?? err}`);
  } finally {
    console.warn = warn;
  }
  if (hidden > 0) step(`(${hidden} harmless LIEF warnings about ELF note sections not shown)`);
  if (authenticode) step("(node.exe's Authenticode signature no longer matches: sign the result)");
  // macOS refuses to run an unsigned arm64 binary: sign it ad hoc where codesign exists.
  if (os === 'darwin' && platform === 'darwin') {
    step('signing ad hoc');
    run('codesign', ['--sign', '-', exePath]);
  }
  const mib = (statSync(exePath).size / 1024 / 1024).toFixed(1);
  step(`built ${relative(root, exePath)} (${mib} MiB)`);
}

if (targets === null) {
  const exePath = join(buildDir, platform === 'win32' ? 'qget.exe' : 'qget');
  const blob = writeBlob(process.execPath, true);
  await makeExecutable(process.execPath, exePath, platform === 'win32' ? 'win' : platform, blob);
  step(`(Node ${process.version}, ${platform}-${process.arch})`);
  console.log(exePath);
} else {
  const log = (message) => step(message);
  const host = hostTarget();
  let generator = process.execPath;
  try {
    if (process.versions.node !== NODE_VERSION) {
      if (!host) {
        fail(`run the build with Node ${NODE_VERSION}: no pinned Node runs on ${platform}-${process.arch}`);
      }
      generator = nodeBinary(host, cacheDir, log);
    }
    const blob = writeBlob(generator, false);
    clearOutput(outDir);
    const built = [];
    for (const target of targets) {
      const exePath = join(outDir, target.exeName);
      await makeExecutable(nodeBinary(target, cacheDir, log), exePath, target.os, blob);
      built.push(exePath);
    }
    copyFileSync(noticesPath, join(outDir, 'THIRD-PARTY-NOTICES.txt'));
    step(`wrote ${relative(root, writeSums(built))} (Node ${NODE_VERSION} inside)`);
    for (const exePath of built) console.log(exePath);
  } catch (err) {
    fail(err?.message ?? String(err));
  }
}
