// The web page's built files (index.html, app.js, app.css) as text. In the command line bundles
// and the standalone executable, scripts/build-web.mjs's esbuild plugin replaces this module by
// the page itself; run from the sources or from tsc's output, the files are read from dist/web/
// (written by `npm run build`).

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const NAMES = ['index.html', 'app.js', 'app.css'];

/** The files by name, or undefined when the page was not built. */
export function webTexts(): Record<string, string> | undefined {
  // src/rpc/ → dist/web/ (tsx), dist/rpc/ → dist/web/ (tsc's output).
  const dir = ['../../dist/web/', '../web/']
    .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
    .find((d) => existsSync(`${d}index.html`));
  if (dir === undefined) return undefined;
  return Object.fromEntries(NAMES.map((name) => [name, readFileSync(dir + name, 'utf8')]));
}
