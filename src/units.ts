// Byte sizes and durations as people type and read them: option parsing (`2M`), bitpit's
// humanReadable pair, and the compact strings the CLI shows.
import { InvalidOptionError } from './errors.js';

const MULTIPLIERS: Record<string, number> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
  e: 1024 ** 6,
};

const SIZE_PATTERN = /^(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgtpe])(?:i?b)?|b)?$/i;

/**
 * Bytes from `500`, `500K`, `2M`, `1.5G`, `2MiB`, `2MB`: multiples are always binary, because
 * that is what the Python tools this replaces meant by them. Fractions round to whole bytes.
 */
export function parseSize(text: string): number {
  const trimmed = String(text).trim();
  if (trimmed.startsWith('-')) {
    throw new InvalidOptionError(`"${text}" is not a valid size: sizes cannot be negative.`);
  }
  const match = SIZE_PATTERN.exec(trimmed);
  if (!match) {
    throw new InvalidOptionError(
      `"${text}" is not a valid size: write a number of bytes, optionally followed by K, M, G, T, P or E (for example 500K or 1.5G).`,
    );
  }
  const bytes = Math.round(Number(match[1]) * MULTIPLIERS[(match[2] ?? '').toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) {
    throw new InvalidOptionError(`"${text}" is not a valid size: it is too large.`);
  }
  return bytes;
}

const HUMAN_SUFFIXES = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'] as const;

/**
 * bitpit's `human_readable`: divide by 1024 while the value has more than `digits` digits before
 * the decimal point. `humanReadable(10102)` is `[9.865234375, 'KiB']`.
 */
export function humanReadable(
  n: number | null | undefined,
  digits = 3,
): [number, string] | [null, null] {
  if (n === null || n === undefined) return [null, null];
  const limit = 10 ** digits;
  let value = n;
  let index = 0;
  while (Math.abs(value) >= limit && index < HUMAN_SUFFIXES.length - 1) {
    value /= 1024;
    index++;
  }
  return [value, HUMAN_SUFFIXES[index]!];
}

const BINARY_SUFFIXES = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/** `'9.87 KiB'`, `'256 MiB'`, `'512 B'`: three significant digits so columns stay steady. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '--';
  let value = n;
  let index = 0;
  while (Math.abs(value) >= 1024 && index < BINARY_SUFFIXES.length - 1) {
    value /= 1024;
    index++;
  }
  if (index === 0) return `${Math.round(value)} B`;
  const magnitude = Math.abs(value);
  const decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2;
  return `${value.toFixed(decimals)} ${BINARY_SUFFIXES[index]}`;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `'1h02m'`, `'3m05s'`, `'42s'`; `'--'` when unknown (null, negative, Infinity, NaN). */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '--';
  const total = Math.round(seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  if (hours > 0) return `${hours}h${pad2(minutes)}m`;
  if (minutes > 0) return `${minutes}m${pad2(secs)}s`;
  return `${secs}s`;
}
