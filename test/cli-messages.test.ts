// The command's messages (issue 18): every exit code in --help, option errors naming the option
// and its unit, a URL without a scheme taken as https (said with --debug), and Ctrl-C saying
// whether the next run resumes or starts over.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { EXIT } from '../src/cli/exit-codes.js';
import { runCli, startCli } from './helpers/cli.js';
import { makeContent, sha256 } from './helpers/content.js';
import { waitFor } from './helpers/wait.js';
import { exists, useFixtures } from './helpers/fixture.js';

const fx = useFixtures();

describe('qget command: messages', () => {
  test('--help lists every exit code', async () => {
    const h = await runCli(['--help'], await fx.tempDir());
    assert.equal(h.code, 0);
    const block = h.stdout.slice(h.stdout.indexOf('Exit codes:'));
    for (const code of Object.values(EXIT)) {
      assert.match(block, new RegExp(`^ +${code}  \\S`, 'm'), `exit code ${code}`);
    }
    // An option's own text names the code its failure exits with.
    assert.match(h.stdout, new RegExp(`redirects followed at most \\(exit ${EXIT.redirects}\\s`));
  });

  test('option errors name the option and its unit', async () => {
    const dir = await fx.tempDir();
    const part = await runCli(['--part', '-1', 'http://127.0.0.1:9/x'], dir);
    assert.equal(part.code, 2);
    assert.match(part.stderr, /--part <mib>' argument '-1' is invalid\. Expected a number of MiB/);
    assert.doesNotMatch(part.stderr, /seconds/);
    const bytes = await runCli(['--bytes', '0', 'http://127.0.0.1:9/x'], dir);
    assert.equal(bytes.code, 2);
    assert.match(bytes.stderr, /--bytes <size>' argument '0' is invalid\. Expected a size of 1K/);
    assert.doesNotMatch(bytes.stderr, /chunkBytes/);
  });

  test('a URL without a scheme is taken as https://, and --debug says so', async () => {
    const fixtures = resolve(import.meta.dirname, 'fixtures');
    const tls = {
      key: await readFile(join(fixtures, 'localhost-key.pem'), 'utf8'),
      cert: await readFile(join(fixtures, 'localhost-cert.pem'), 'utf8'),
    };
    const content = makeContent(200_000, 81);
    const server = await fx.serve({ content, tls });
    const dir = await fx.tempDir();
    const out = join(dir, 'plain.bin');
    const bare = server.fileUrl.replace(/^https:\/\//, '');
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(fixtures, 'localhost-cert.pem') };
    const r = await runCli(['--debug', '-o', out, bare], dir, '', env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(`"${bare}" has no scheme: taking it as https://${bare}`), r.stderr);
    assert.equal(sha256(await readFile(out)), sha256(content));
    const quiet = await runCli(['-f', '-o', out, bare], dir, '', env);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /no scheme/);
  });

  test('Ctrl-C with a server that cannot resume says the next run starts over', async () => {
    // No ranges, one stream at 256 KiB/s: 16 s in all, interrupted after the first 256 KiB.
    const content = makeContent(4 * 1024 * 1024, 82);
    const server = await fx.serve({ content, ranges: false, ratePerConnection: 256 * 1024 });
    const dir = await fx.tempDir();
    const out = join(dir, 'n.bin');
    const first = startCli(['-o', out, server.fileUrl], dir);
    await waitFor(() => server.stats.bytesSent >= 256 * 1024, 'the first bytes', 120_000);
    first.child.kill('SIGINT');
    const r = await first.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(
      r.stderr,
      /does not accept ranges: running the command again starts the download over/,
    );
    assert.doesNotMatch(r.stderr, /to resume/);
    assert.equal(await exists(`${out}.qget`), false);
  });
});
