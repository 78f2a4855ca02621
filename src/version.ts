// The package version: injected by the single-file bundle, else read from package.json.

import { readFileSync } from 'node:fs';

declare const __QGET_VERSION__: string | undefined;

function fromPackageJson(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

export const VERSION: string =
  typeof __QGET_VERSION__ === 'string' ? __QGET_VERSION__ : fromPackageJson();
