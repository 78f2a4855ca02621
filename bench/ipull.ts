// ipull (the npm downloader with the most installs that splits downloads) as a peer: installed
// by the bench with npm into a folder of the system's temporary directory (kept there for the
// next bench run; never a dependency of qget) and driven through its library, because its
// command line (4.0.3) ignores `--connections` (it reads an option named `number`) and always
// opens 4. BENCH_IPULL=0 leaves it out.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const IPULL_VERSION = '4.0.3';
const FOLDER = join(tmpdir(), `qget-bench-ipull-${IPULL_VERSION}`);
const RUNNER = join(FOLDER, 'run.mjs');

/** Downloads argv[2] to the file argv[3] with argv[4] connections, no progress bar. */
const RUNNER_SOURCE = `import { basename, dirname } from 'node:path';
import { downloadFile } from 'ipull';
const [url, out, n] = process.argv.slice(2);
const d = await downloadFile({
  url,
  directory: dirname(out),
  fileName: basename(out),
  parallelStreams: Number(n),
  cliProgress: false,
});
await d.download();
`;

let ready = false;
let why = 'not prepared';

/** Install ipull (unless already there); false, with the reason in `ipullStatus()`, on failure. */
export async function prepareIpull(): Promise<boolean> {
  if (process.env.BENCH_IPULL === '0') {
    why = 'BENCH_IPULL=0';
    return false;
  }
  const installedAt = join(FOLDER, 'node_modules', 'ipull', 'package.json');
  if (!existsSync(installedAt)) {
    await mkdir(FOLDER, { recursive: true });
    await writeFile(join(FOLDER, 'package.json'), '{ "private": true, "type": "module" }\n');
    console.log(`installing ipull@${IPULL_VERSION} into ${FOLDER} (npm) …`);
    const r = spawnSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--no-save', `ipull@${IPULL_VERSION}`],
      { cwd: FOLDER, encoding: 'utf8', timeout: 300_000 },
    );
    if (r.status !== 0 || !existsSync(installedAt)) {
      why = `npm install failed: ${(r.stderr ?? String(r.error)).trim().split('\n').pop()}`;
      return false;
    }
  }
  await writeFile(RUNNER, RUNNER_SOURCE);
  ready = true;
  return true;
}

/** The script that runs one ipull download, when ipull is ready. */
export function ipullRunner(): string | undefined {
  return ready ? RUNNER : undefined;
}

export function ipullStatus(): string {
  return ready ? `ipull ${IPULL_VERSION} (library, temporary folder)` : `ipull (skipped: ${why})`;
}
