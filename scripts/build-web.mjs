// The daemon's web page (src/web/): esbuild compiles src/web/app.ts into one minified script;
// with index.html and app.css it is written to dist/web/ (read by the daemon when it runs from
// the sources or from tsc's output) and returned, so the command line bundles compile the three
// files in: webPlugin() replaces src/rpc/web-assets.ts by them (the standalone executable reads no
// file, and the page lands in the daemon's chunk only).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The page's whole weight may not pass this (index.html + app.js + app.css). */
export const WEB_BUDGET = 100 * 1024;

/** Build the page; returns { 'index.html', 'app.js', 'app.css' } as strings. */
export async function buildWeb(esbuild, root) {
  const src = join(root, 'src', 'web');
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [join(src, 'app.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  if (result.warnings.length > 0) throw new Error('esbuild printed warnings for src/web/app.ts');
  const assets = {
    'index.html': readFileSync(join(src, 'index.html'), 'utf8'),
    'app.js': result.outputFiles[0].text,
    'app.css': readFileSync(join(src, 'app.css'), 'utf8'),
  };
  const weight = Object.values(assets).reduce((n, text) => n + Buffer.byteLength(text), 0);
  if (weight > WEB_BUDGET) {
    throw new Error(`the web page weighs ${weight} bytes, over its budget of ${WEB_BUDGET}`);
  }
  const out = join(root, 'dist', 'web');
  mkdirSync(out, { recursive: true });
  for (const [name, text] of Object.entries(assets)) writeFileSync(join(out, name), text);
  return assets;
}

/** esbuild plugin: src/rpc/web-assets.ts becomes the built page itself. */
export function webPlugin(web) {
  return {
    name: 'qget-web',
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]rpc[\\/]web-assets\.ts$/ }, () => ({
        contents: `export function webTexts() { return ${JSON.stringify(web)}; }`,
        loader: 'js',
      }));
    },
  };
}
