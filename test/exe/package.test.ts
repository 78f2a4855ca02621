// `npm pack` makes a tarball that installs and runs with nothing but Node: the package is
// packed from a copy of the sources (so `prepack` builds a fresh dist/ there and the working
// tree is left alone), installed globally into a temporary prefix without running any script
// (npm 11 warns about packages with install scripts), and run.

import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { makeContent, sha256 } from '../helpers/content.js';
import { startServer } from '../helpers/server.js';
import { IS_WINDOWS, NPM, ROOT, run, show } from './run.js';

const SKIP_TOP = new Set(['node_modules', '.git', 'build', 'dist', 'scratch']);

let work = '';
let tarball = '';
let files: string[] = [];
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'qget-pack-'));
  const src = join(work, 'src');
  await cp(ROOT, src, {
    recursive: true,
    filter: (from) => {
      const rel = relative(ROOT, from);
      const top = rel.split(/[\\/]/)[0]!;
      return !SKIP_TOP.has(top) && !rel.endsWith('.tgz') && !rel.startsWith(join('bench', 'out'));
    },
  });
  // Things that must never ship, present in the copy so the test sees them left out.
  await mkdir(join(src, 'scratch'));
  await writeFile(join(src, 'scratch', 'notes.txt'), 'scratch\n');
  await symlink(
    join(ROOT, 'node_modules'),
    join(src, 'node_modules'),
    IS_WINDOWS ? 'junction' : 'dir',
  );

  const packed = await run(NPM, ['pack', '--json', '--pack-destination', work], { cwd: src });
  assert.equal(packed.code, 0, show(packed));
  const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  tarball = join(work, basename(info[0]!.filename));
  files = info[0]!.files.map((f) => f.path).sort();
  console.log(
    `# ${basename(tarball)}: ${info[0]!.size} bytes, ${info[0]!.unpackedSize} unpacked, ${files.length} files`,
  );
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('the tarball holds the built package and nothing else', () => {
  assert.equal(basename(tarball), `${pkg.name}-${pkg.version}.tgz`);
  for (const required of [
    'package.json',
    'LICENSE',
    'bin/qget.js',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
    'dist/cli/run-single.js',
  ]) {
    assert.ok(files.includes(required), `${required} is missing from the tarball`);
  }
  if (existsSync(join(ROOT, 'README.md'))) assert.ok(files.includes('README.md'));
  const stray = files.filter(
    (f) =>
      /^(test|tests|scratch|src|bench|build|scripts|docs|examples|node_modules|\.ci)\//.test(f) ||
      /\.(map|tgz|part|qget|ts)$/.test(f.replace(/\.d\.ts$/, '.d')) ||
      f.includes('sea-entry'),
  );
  assert.deepEqual(stray, [], 'files that should not ship');
  for (const f of files) {
    assert.ok(
      /^(package\.json|LICENSE|README\.md|bin\/|dist\/)/.test(f),
      `${f} is outside what package.json "files" should ship`,
    );
  }
});

/** Lifecycle scripts npm runs when a package is installed (not only in its own checkout). */
const INSTALL_SCRIPTS = [
  'preinstall',
  'install',
  'postinstall',
  'prepare',
  'preprepare',
  'postprepare',
];

test('the packed package.json has no install script', async () => {
  const listed = await run('tar', ['-xzOf', tarball, 'package/package.json'], { cwd: work });
  assert.equal(listed.code, 0, show(listed));
  const packed = JSON.parse(listed.stdout) as { scripts?: Record<string, string> };
  const found = INSTALL_SCRIPTS.filter((name) => packed.scripts?.[name] !== undefined);
  assert.deepEqual(found, [], 'install scripts in the published package.json');
});

test('installs globally into a fresh prefix and runs', async () => {
  const prefix = join(work, 'prefix');
  const installed = await run(
    NPM,
    ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball],
    { cwd: work },
  );
  assert.equal(installed.code, 0, show(installed));
  console.log(
    `# npm install -g ${basename(tarball)}:\n${`${installed.stdout}${installed.stderr}`.trim().replace(/^/gm, '#   ')}`,
  );
  // No script ran, so nothing was built: dist/ came from the tarball.
  assert.doesNotMatch(
    installed.stdout + installed.stderr,
    /install.scripts|npm run build|prepare/i,
  );
  const bin = IS_WINDOWS ? join(prefix, 'qget.cmd') : join(prefix, 'bin', 'qget');

  const version = await run(bin, ['--version'], { cwd: work });
  assert.equal(version.code, 0, show(version));
  assert.equal(version.stdout.trim(), pkg.version);

  // A real download: commander and undici came from the registry, dist/ from the tarball.
  const content = makeContent(2 * 1024 * 1024 + 7);
  const server = await startServer({ content });
  try {
    const ran = await run(bin, ['-c', '4', '-o', 'got.bin', server.fileUrl], { cwd: work });
    assert.equal(ran.code, 0, show(ran));
    assert.equal(sha256(await readFile(join(work, 'got.bin'))), sha256(content));
  } finally {
    await server.close();
  }
});
