// Metalink in the daemon: aria2.addMetalink (the document as base64 text, options, position;
// one GID per file) over JSON-RPC to a real daemon, each file from its local servers with its
// piece hashes applied.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KiB, MiB, makeContent } from './helpers/content.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';
import { meta4Files } from './helpers/meta4.js';
import { client, reach, statusOf, useDaemons } from './helpers/rpc.js';
import {
  PIECE_HASHES_KEY,
  parsePieceHashes,
  parseSession,
  takePieceHashes,
} from '../src/rpc/session.js';

const { serve, tempDir } = useFixtures();
const daemons = useDaemons();

const base64 = (text: string): string => Buffer.from(text).toString('base64');

describe('aria2.addMetalink', () => {
  it('adds one download per file, each from its URLs, with its piece hashes', async () => {
    const one = makeContent(3 * MiB, 91);
    const two = makeContent(2 * MiB, 92);
    // Right in its first 256 KiB (the 64 KiB sample agrees), wrong in every later piece: only
    // the piece hashes keep these bytes out (the whole-file hash alone would fail the file).
    const bad = Buffer.from(one);
    for (let at = 256 * KiB; at < bad.length; at += 64 * KiB) bad[at + 7]! ^= 0xff;
    // Paced so the mirror, checked in a tenth of the time, serves some of its bad pieces.
    const a = await serve({ content: one, ratePerConnection: 1 * MiB });
    const liar = await serve({ content: bad, ratePerConnection: 1 * MiB });
    const b = await serve({ content: two });
    const c = await serve({ content: two });
    const dir = await tempDir();
    const aria2 = client(await daemons({ dir }));
    const doc = meta4Files([
      { content: one, name: 'one.bin', urls: [a.fileUrl, liar.fileUrl] },
      { content: two, name: 'two.bin', urls: [b.fileUrl, c.fileUrl] },
    ]);
    const gids = (await aria2.call('addMetalink', base64(doc), {
      split: '4',
      'max-connection-per-server': '4',
    })) as string[];
    assert.equal(gids.length, 2);
    assert.notEqual(gids[0], gids[1]);
    for (const gid of gids) await reach(aria2, gid, 'complete', 60_000);
    await assertFileEquals(join(dir, 'one.bin'), one);
    await assertFileEquals(join(dir, 'two.bin'), two);
    const uris = (await aria2.call('getUris', gids[1]!)) as { uri: string }[];
    assert.deepEqual(
      uris.map((u) => u.uri),
      [b.fileUrl, c.fileUrl],
    );
    const status = await statusOf(aria2, gids[0]!);
    assert.equal(status.files?.[0]?.path, join(dir, 'one.bin'));
    const options = (await aria2.call('getOption', gids[0]!)) as Record<string, string>;
    assert.match(options.checksum ?? '', /^sha256=[0-9a-f]{64}$/);
  });

  it('puts the files at the position given, in order; refuses what is no Metalink', async () => {
    const content = makeContent(256 * KiB, 93);
    const s = await serve({ content });
    const dir = await tempDir();
    const aria2 = client(await daemons({ dir, maxConcurrentDownloads: 1 }));
    const first = (await aria2.call('addUri', [s.fileUrl], { out: 'a', pause: 'true' })) as string;
    const last = (await aria2.call('addUri', [s.fileUrl], { out: 'z', pause: 'true' })) as string;
    const doc = meta4Files([
      { content, name: 'm1', urls: [s.fileUrl] },
      { content, name: 'm2', urls: [s.fileUrl] },
    ]);
    const gids = (await aria2.call('addMetalink', base64(doc), { pause: 'true' }, 1)) as string[];
    const waiting = (await aria2.call('tellWaiting', 0, 10, ['gid'])) as { gid: string }[];
    assert.deepEqual(
      waiting.map((w) => w.gid),
      [first, ...gids, last],
    );
    await assert.rejects(aria2.call('addMetalink', '%%% not base64'), /base64/);
    await assert.rejects(aria2.call('addMetalink', base64('<html/>')), /Metalink/);
  });

  it('keeps the piece hashes in the saved session: a restored download still rejects bad pieces', async () => {
    const content = makeContent(3 * MiB, 94);
    // Right in its first 256 KiB (the 64 KiB sample agrees), wrong in every later piece: with
    // the whole-file hash alone the file would fail; only the piece hashes keep these bytes out.
    const bad = Buffer.from(content);
    for (let at = 256 * KiB; at < bad.length; at += 64 * KiB) bad[at + 7]! ^= 0xff;
    const good = await serve({ content, ratePerConnection: 1 * MiB });
    const liar = await serve({ content: bad, ratePerConnection: 1 * MiB });
    const dir = await tempDir();
    const sessionFile = join(dir, 'aria2.session');
    const first = await daemons({ dir, saveSession: sessionFile });
    const doc = meta4Files([{ content, name: 'kept.bin', urls: [good.fileUrl, liar.fileUrl] }]);
    const [gid] = (await client(first).call('addMetalink', base64(doc), {
      pause: 'true',
      split: '4',
      'max-connection-per-server': '4',
    })) as string[];
    await first.shutdown();

    const text = await readFile(sessionFile, 'utf8');
    const [entry] = parseSession(text);
    assert.deepEqual(entry?.uris, [good.fileUrl, liar.fileUrl]);
    const { pieceHashes } = takePieceHashes(entry!.options);
    assert.equal(pieceHashes?.algorithm, 'sha1');
    assert.equal(pieceHashes?.length, 256 * KiB);
    assert.equal(pieceHashes?.hashes.length, 12);
    assert.ok(text.includes(`\n ${PIECE_HASHES_KEY}=sha1:262144:`), text.slice(0, 400));

    // A new daemon given the session (as `--input-file` gives it).
    const second = await daemons({ dir, saveSession: sessionFile, session: parseSession(text) });
    const aria2 = client(second);
    assert.equal(await aria2.call('unpause', gid), gid);
    await reach(aria2, gid!, 'complete', 60_000);
    await assertFileEquals(join(dir, 'kept.bin'), content);
    assert.ok(
      liar.stats.bytesSent > 256 * KiB,
      `the liar served some of its bad pieces (${liar.stats.bytesSent} bytes)`,
    );
  });

  it('reads only well-formed piece hash lines', () => {
    const h = 'ab'.repeat(20);
    assert.deepEqual(parsePieceHashes(`sha1:1024:${h},${h}`), {
      algorithm: 'sha1',
      length: 1024,
      hashes: [h, h],
    });
    for (const wrong of [
      `sha1:0:${h}`,
      `crc:1024:${h}`,
      `sha1:1024:${h}0`,
      'sha1:1024:',
      `sha1:x:${h}`,
    ]) {
      assert.throws(() => parsePieceHashes(wrong), /qget-piece-hashes must be/, wrong);
    }
  });
});
