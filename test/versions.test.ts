// Downloads from servers that name one resource with changing validators: weak ETags that
// differ per backend for the same bytes, and a balancer over backends at two versions. The file
// must be one version entirely, and consistent bytes are never thrown away.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { qget } from '../src/index.js';
import { makeContent, MiB } from './helpers/content.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';

const { serve, tempDir } = useFixtures();

describe('validators that change under us', () => {
  it('weak ETags that differ per answer while size and Last-Modified stay: no restart', async () => {
    const content = makeContent(4 * MiB, 71);
    const s = await serve({ content, weakEtagPerResponse: true, ratePerConnection: 8 * MiB });
    const out = join(await tempDir(), 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 4, maxPartMb: 0.5 });
    await assertFileEquals(out, content);
    const probes = s.requests.filter((r) => r.range?.startsWith('bytes=0-'));
    assert.equal(probes.length, 1, 'one probe: the download never started over');
    const sent = s.requests.reduce((n, r) => n + r.bytesSent, 0);
    assert.ok(sent <= content.length * 1.1, `${sent} bytes sent for ${content.length}`);
    // If-Range needs a strong validator (RFC 9110 §13.1.5): Last-Modified instead.
    for (const r of s.requests) assert.ok(!r.ifRange?.startsWith('W/'), `If-Range ${r.ifRange}`);
    assert.ok(s.requests.some((r) => r.ifRange === s.config.lastModified));
  });

  it('two versions alternating per request: one version entirely, or a safe failure', async () => {
    const a = makeContent(4 * MiB, 72);
    const b = makeContent(4 * MiB, 73);
    const s = await serve({ content: a, otherContent: b, versionPattern: 'AB' });
    const out = join(await tempDir(), 'out.bin');
    let failed: unknown;
    await qget(s.fileUrl, { filepath: out, maxConnections: 4, maxPartMb: 0.25 }).catch((err) => {
      failed = err;
    });
    if (failed === undefined) {
      const got = await readFile(out);
      assert.ok(got.equals(a) || got.equals(b), 'the file is one version, never a mix');
    } else {
      // Failing is allowed (safely): nothing under the output's name, the bytes kept for a rerun.
      await assert.rejects(readFile(out), { code: 'ENOENT' });
    }
    const probes = s.requests.filter((r) => r.range?.startsWith('bytes=0-'));
    assert.equal(probes.length, 1, 'consistent bytes were never thrown away');
    assert.ok(
      s.requests.some((r) => r.version === 'B'),
      'the other version never answered',
    );
  });

  it('one version dominating (2 of 3 answers): completes with it, no restart', async () => {
    const a = makeContent(4 * MiB, 74);
    const b = makeContent(4 * MiB, 75);
    const s = await serve({ content: a, otherContent: b, versionPattern: 'AAB' });
    const out = join(await tempDir(), 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 4, maxPartMb: 0.25 });
    await assertFileEquals(out, a);
    assert.equal(s.requests.filter((r) => r.range?.startsWith('bytes=0-')).length, 1, 'no restart');
    assert.ok(
      s.requests.some((r) => r.version === 'B'),
      'the other version never answered: the test proves nothing',
    );
  });
});
