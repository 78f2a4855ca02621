// Tests for src/engine/filename.ts: Content-Disposition parsing, sanitising, URL fallback.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  filenameFromResponse,
  MAX_NAME_BYTES,
  parseContentDisposition,
  sanitizeFilename,
} from '../src/engine/filename.js';

describe('parseContentDisposition', () => {
  it('reads token and quoted forms, unescaping quoted pairs', () => {
    assert.equal(parseContentDisposition('attachment; filename=plain.txt'), 'plain.txt');
    assert.equal(
      parseContentDisposition('attachment; filename="quoted \\"esc\\".txt"'),
      'quoted "esc".txt',
    );
    assert.equal(parseContentDisposition('attachment; filename="a;b.txt"; size=3'), 'a;b.txt');
  });

  it('prefers filename* whichever order the parameters come in', () => {
    const star = "filename*=UTF-8''na%C3%AFve%20file.txt";
    assert.equal(
      parseContentDisposition(`attachment; filename="x.txt"; ${star}`),
      'naïve file.txt',
    );
    assert.equal(
      parseContentDisposition(`attachment; ${star}; filename="x.txt"`),
      'naïve file.txt',
    );
  });

  it('decodes ISO-8859-1 filename* and ignores parameter-name case', () => {
    assert.equal(parseContentDisposition("inline; FILENAME*=iso-8859-1'en'caf%E9.txt"), 'café.txt');
    assert.equal(parseContentDisposition('Attachment; FileName="A.bin"'), 'A.bin');
  });

  it('falls back to filename when filename* is broken', () => {
    assert.equal(
      parseContentDisposition("attachment; filename*=UTF-8''bad%ZZ; filename=good.txt"),
      'good.txt',
    );
    assert.equal(
      parseContentDisposition("attachment; filename*=UTF-8''%E9; filename=good.txt"),
      'good.txt',
    );
    assert.equal(
      parseContentDisposition("attachment; filename*=koi8-r''x; filename=good.txt"),
      'good.txt',
    );
  });

  it('repairs raw UTF-8 delivered as Latin-1', () => {
    const raw = Buffer.from('résumé.pdf', 'utf8').toString('latin1');
    assert.equal(parseContentDisposition(`attachment; filename="${raw}"`), 'résumé.pdf');
  });

  it('returns undefined for garbage without throwing', () => {
    for (const header of [
      undefined,
      '',
      'attachment',
      'attachment; filename=',
      'attachment; filename=""',
      ';;;==;"',
      'filename*=nonsense',
      'attachment; filename="unterminated',
    ]) {
      const result = parseContentDisposition(header);
      if (header === 'attachment; filename="unterminated') {
        assert.equal(result, 'unterminated');
      } else {
        assert.equal(result, undefined, String(header));
      }
    }
  });
});

describe('sanitizeFilename', () => {
  it('keeps only the last path segment', () => {
    assert.equal(sanitizeFilename('../../etc/passwd'), 'passwd');
    assert.equal(sanitizeFilename('C:\\Windows\\system32\\evil.dll'), 'evil.dll');
    assert.equal(sanitizeFilename('dir/'), '');
  });

  it('removes bidirectional overrides and invisible characters that disguise a name', () => {
    assert.equal(sanitizeFilename('\u202etxt.exe'), 'txt.exe');
    assert.equal(sanitizeFilename('report\u2066\u200b.pdf\u2069\ufeff.js'), 'report.pdf.js');
  });

  it('removes control and Windows-invalid characters, trims spaces and trailing dots', () => {
    assert.equal(sanitizeFilename('  a<b>c:d"e|f?g*h\u0000\u001f\u007f.txt  '), 'abcdefgh.txt');
    assert.equal(sanitizeFilename('name...'), 'name');
    assert.equal(sanitizeFilename('name. . '), 'name');
    assert.equal(sanitizeFilename('.hidden'), '.hidden');
  });

  it('rejects names that are nothing or a directory reference', () => {
    for (const name of ['', '.', '..', '...', '   ', '???', 'a/..', 'a\\.']) {
      assert.equal(sanitizeFilename(name), '', JSON.stringify(name));
    }
  });

  it('defuses reserved Windows device names', () => {
    assert.equal(sanitizeFilename('CON'), '_CON');
    assert.equal(sanitizeFilename('nul.txt'), '_nul.txt');
    assert.equal(sanitizeFilename('console.txt'), 'console.txt');
  });

  it('caps at MAX_NAME_BYTES UTF-8 bytes, keeping the extension and whole characters', () => {
    const long = `${'é'.repeat(300)}.tar.txt`;
    const capped = sanitizeFilename(long);
    assert.ok(Buffer.byteLength(capped, 'utf8') <= MAX_NAME_BYTES);
    // With every suffix qget adds, the name still fits a 255-byte file system limit.
    assert.ok(Buffer.byteLength(`${capped}.9999.1a2b3c4d.qget.lock`, 'utf8') <= 255);
    assert.ok(capped.endsWith('.txt'));
    assert.ok(!capped.includes('\uFFFD'));
    assert.equal(capped, `${'é'.repeat(110)}.txt`); // 220 bytes left for 2-byte chars

    const noExt = 'x'.repeat(400);
    assert.equal(sanitizeFilename(noExt), 'x'.repeat(MAX_NAME_BYTES));

    const emoji = '😀'.repeat(100);
    const cappedEmoji = sanitizeFilename(emoji);
    assert.equal(cappedEmoji, '😀'.repeat(56));
  });
});

describe('filenameFromResponse', () => {
  it('uses Content-Disposition first, sanitised', () => {
    assert.equal(
      filenameFromResponse({
        contentDisposition: 'attachment; filename="../secret.txt"',
        url: 'https://example.com/file.bin',
      }),
      'secret.txt',
    );
  });

  it('falls back to the last non-empty URL path segment, percent-decoded', () => {
    assert.equal(
      filenameFromResponse({ url: 'https://e.com/a/b/my%20file.iso?x=1#y' }),
      'my file.iso',
    );
    assert.equal(filenameFromResponse({ url: 'https://e.com/dir/sub/' }), 'sub');
    assert.equal(
      filenameFromResponse({ contentDisposition: 'attachment', url: 'https://e.com/x.zip' }),
      'x.zip',
    );
    assert.equal(
      filenameFromResponse({
        contentDisposition: 'attachment; filename=".."',
        url: 'https://e.com/x.zip',
      }),
      'x.zip',
    );
  });

  it('tolerates malformed percent escapes', () => {
    assert.equal(
      filenameFromResponse({ url: 'https://e.com/100%25%zz%C3%A9%E9.txt' }),
      '100%%zzé%E9.txt',
    );
  });

  it('falls back to "download" when nothing usable remains', () => {
    assert.equal(filenameFromResponse({ url: 'https://e.com/' }), 'download');
    assert.equal(filenameFromResponse({ url: 'https://e.com' }), 'download');
    assert.equal(filenameFromResponse({ url: 'https://e.com/%2E%2E' }), 'download');
    assert.equal(filenameFromResponse({ url: 'not a url' }), 'download');
  });
});
