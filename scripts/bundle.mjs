// Shared by the two bundles of the command line (scripts/bundle-cli.mjs for dist/, and
// scripts/build-exe.mjs for the standalone executable): their defines, the esbuild plugin that
// gives them the lean undici entry, and the notices for the npm packages compiled into them.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** esbuild plugin: `import … from 'undici'` resolves to scripts/undici-lite.mjs. */
export const undiciLite = {
  name: 'undici-lite',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, () => ({ path: join(here, 'undici-lite.mjs') }));
  },
};

/**
 * esbuild `define`s of both bundles: the version compiled in (src/version.ts then reads no
 * package.json), and ws told not to try its optional native add-ons (it works without them).
 */
export function bundleDefines(version) {
  return {
    __QGET_VERSION__: JSON.stringify(version),
    'process.env.WS_NO_BUFFER_UTIL': '"1"',
    'process.env.WS_NO_UTF_8_VALIDATE': '"1"',
  };
}

/** The licence of every npm package esbuild compiled in (from its metafile), after `header`. */
export function thirdPartyNotices(metafile, root, header) {
  const packages = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input.replaceAll('\\', '/'));
    if (m && !packages.has(m[1]))
      packages.set(m[1], join(root, input.slice(0, m.index + m[0].length)));
  }
  let text = header;
  for (const [name, dir] of [...packages].sort()) {
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const licenseFile = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license']
      .map((f) => join(dir, f))
      .find(existsSync);
    text += `\n==== ${name} ${meta.version} (${meta.license}) ====\n`;
    text += licenseFile
      ? `${readFileSync(licenseFile, 'utf8').trim()}\n`
      : '(no licence file in the package)\n';
  }
  return text;
}
