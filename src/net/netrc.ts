// The .netrc file as curl reads it: `machine <host>`, `login`, `password`, `default` (for any
// host no machine names), `macdef` (skipped up to its blank line), `account` (ignored); tokens
// separated by any white space, over lines or on one; double-quoted tokens with \" \\ \n \t
// escapes. Pure: the caller reads the file (~/.netrc unless a file is named).

import { homedir } from 'node:os';
import { join } from 'node:path';

export interface NetrcEntry {
  /** Undefined for the `default` entry. */
  machine: string | undefined;
  login: string | undefined;
  password: string | undefined;
}

function tokens(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#' && (i === 0 || text[i - 1] === '\n')) {
      // A comment line (curl reads # at the start of a line as one).
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '"') {
      let token = '';
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\' && i + 1 < text.length) {
          const e = text[++i]!;
          token += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e;
        } else token += text[i];
      }
      i++;
      out.push(token);
      continue;
    }
    const start = i;
    while (i < text.length && !/\s/.test(text[i]!)) i++;
    const word = text.slice(start, i);
    if (word === 'macdef') {
      // The macro runs to the next empty line.
      const end = text.indexOf('\n\n', i);
      i = end < 0 ? text.length : end + 2;
      continue;
    }
    out.push(word);
  }
  return out;
}

/** The entries of a .netrc text, in order. */
export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  let current: NetrcEntry | undefined;
  const list = tokens(text);
  for (let i = 0; i < list.length; i++) {
    const word = list[i]!;
    if (word === 'machine') {
      current = { machine: list[++i]?.toLowerCase(), login: undefined, password: undefined };
      entries.push(current);
    } else if (word === 'default') {
      current = { machine: undefined, login: undefined, password: undefined };
      entries.push(current);
    } else if (current && word === 'login') current.login = list[++i];
    else if (current && word === 'password') current.password = list[++i];
    else if (word === 'account') i++;
  }
  return entries;
}

/**
 * The login and password for `host` (curl's rule): the first `machine` entry for the host (with
 * `login` equal to `user` when a user is given), else the `default` entry. Undefined when
 * neither has a password.
 */
export function netrcCredentials(
  entries: readonly NetrcEntry[],
  host: string,
  user?: string,
): { username: string; password: string } | undefined {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  const fits = (e: NetrcEntry): boolean => user === undefined || e.login === user;
  const entry =
    entries.find((e) => e.machine === name && fits(e)) ??
    entries.find((e) => e.machine === undefined && fits(e));
  if (!entry || entry.password === undefined) return undefined;
  return { username: entry.login ?? user ?? '', password: entry.password };
}

/** Where curl looks when no file is named: ~/.netrc. */
export function defaultNetrcPath(): string {
  return join(homedir(), '.netrc');
}
