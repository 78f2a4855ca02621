// The Netscape/Mozilla cookies.txt format that curl, wget, aria2 and browser extensions read
// and write: one cookie a line, seven tab-separated fields
//   domain  include-subdomains(TRUE/FALSE)  path  secure(TRUE/FALSE)  expiry(Unix s, 0 = session)  name  value
// `#HttpOnly_` before the domain marks an HttpOnly cookie; other lines starting with # are
// comments. Pure: text in, records out, and back.

export interface CookieRecord {
  /** Without a leading dot. */
  domain: string;
  includeSubdomains: boolean;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  /** Unix seconds; 0 = a session cookie. */
  expires: number;
  name: string;
  value: string;
}

const HTTP_ONLY = '#HttpOnly_';

/** The cookies of a cookies.txt text; malformed lines are skipped. */
export function parseCookiesTxt(text: string): CookieRecord[] {
  const out: CookieRecord[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw;
    let httpOnly = false;
    if (line.startsWith(HTTP_ONLY)) {
      httpOnly = true;
      line = line.slice(HTTP_ONLY.length);
    } else if (line.startsWith('#') || line.trim() === '') continue;
    const fields = line.split('\t');
    // A cookie with an empty value may lose its last tab in hand-edited files.
    if (fields.length === 6) fields.push('');
    if (fields.length !== 7) continue;
    const [domain, sub, path, secure, expires, name, value] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (domain === '' || name === '' || !/^\d+$/.test(expires)) continue;
    out.push({
      domain: domain.replace(/^\./, '').toLowerCase(),
      includeSubdomains: sub.toUpperCase() === 'TRUE',
      path: path || '/',
      secure: secure.toUpperCase() === 'TRUE',
      httpOnly,
      expires: Number(expires),
      name,
      value,
    });
  }
  return out;
}

/** A cookies.txt text for `cookies`, as curl writes it (a leading dot for subdomain cookies). */
export function formatCookiesTxt(cookies: readonly CookieRecord[]): string {
  const lines = [
    '# Netscape HTTP Cookie File',
    '# Written by qget. Each line: domain, include subdomains, path, secure, expiry, name, value.',
    '',
  ];
  for (const c of cookies) {
    const domain = `${c.httpOnly ? HTTP_ONLY : ''}${c.includeSubdomains ? '.' : ''}${c.domain}`;
    const flag = (b: boolean): string => (b ? 'TRUE' : 'FALSE');
    lines.push(
      [domain, flag(c.includeSubdomains), c.path, flag(c.secure), c.expires, c.name, c.value].join(
        '\t',
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
