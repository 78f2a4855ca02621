// The summary table: one row per scenario and tool, with the target the row is judged by.
// Targets on qget alone (vs the physical limit, a memory bound, a time) sit in qget's row;
// targets relative to a peer sit in that peer's row, as the ratio qget / peer.

import type { Summary } from './compare.js';

export interface Row {
  scenario: string;
  tool: string;
  wall: string;
  target: string;
  cpu: string;
  rss: string;
  met: string;
}

export interface Check {
  text: string;
  /** 'n/a': a target that cannot be judged (e.g. the peer failed every run); 'info': shown, not
   * a target. */
  met: 'yes' | 'no' | 'n/a' | 'info';
}

const yesNo = (b: boolean): 'yes' | 'no' => (b ? 'yes' : 'no');

export const secs = (v: number | undefined): string =>
  v === undefined ? '-' : v < 1 ? v.toFixed(3) : v.toFixed(2);

/** One row for a tool's summary, judged by `checks` (none: the met column shows '-'). */
export function row(
  scenario: string,
  s: Summary | undefined,
  checks: Check[],
  label = s?.name ?? '?',
): Row {
  const good = s ? s.runs.filter((r) => r.ok).length : 0;
  let wall = s?.lowerBound ? `>${secs(s.wall)}` : secs(s?.wall);
  if (s && good < s.runs.length) wall += ` [${good}/${s.runs.length} ok]`;
  return {
    scenario,
    tool: label,
    wall,
    target: checks.map((c) => c.text).join('; ') || '-',
    cpu: s?.cpu === undefined ? '-' : s.cpu.toFixed(2),
    rss: s?.rssMiB === undefined ? '-' : String(Math.round(s.rssMiB)),
    met: verdict(checks),
  };
}

function verdict(checks: Check[]): string {
  const targets = checks.filter((c) => c.met !== 'info');
  if (targets.length === 0) return '-';
  if (targets.some((c) => c.met === 'no')) return 'no';
  if (targets.some((c) => c.met === 'n/a')) return 'n/a';
  return 'yes';
}

/** qget's own value against a bound: `text` describes it, e.g. "1.03 × limit ≤ 1.05". */
export function bound(
  value: number | undefined,
  max: number,
  text: (v: string) => string,
  digits = 2,
): Check {
  if (value === undefined) return { text: text('?'), met: 'no' };
  return { text: text(value.toFixed(digits)), met: yesNo(value <= max) };
}

/** The ratio qget / peer of a metric against a bound (`strict`: must be below it). */
export function ratio(
  qget: Summary | undefined,
  peer: Summary,
  metric: 'wall' | 'cpu',
  max?: number,
  strict = false,
): Check {
  const label = `qget/${peer.name}${metric === 'cpu' ? ' CPU' : ''}`;
  const op = strict ? '<' : '≤';
  const goal = max === undefined ? '' : ` ${op} ${max}`;
  const q = metric === 'wall' ? qget?.wall : qget?.cpu;
  const p = metric === 'wall' ? peer.wall : peer.cpu;
  const none = max === undefined ? 'info' : undefined;
  // qget without a good run fails the target; a metric that was not measured cannot judge it.
  const qgetFailed = qget?.wall === undefined || qget.lowerBound;
  if (q === undefined || qget?.lowerBound) {
    return { text: `${label} ?${goal}`, met: none ?? (qgetFailed ? 'no' : 'n/a') };
  }
  if (p === undefined) return { text: `${label} ?${goal}`, met: none ?? 'n/a' };
  const r = q / p;
  // A peer that timed out took longer than p: the true ratio is below r.
  const text = `${label} ${peer.lowerBound && metric === 'wall' ? '<' : ''}${r.toFixed(2)}${goal}`;
  if (max === undefined) return { text, met: 'info' };
  return { text, met: yesNo(strict ? r < max : r <= max) };
}

export function printTable(rows: Row[]): void {
  const header: Row = {
    scenario: 'scenario',
    tool: 'tool',
    wall: 'median wall s',
    target: 'ratio/target',
    cpu: 'CPU s',
    rss: 'peak RSS MiB',
    met: 'target met?',
  };
  const keys = ['scenario', 'tool', 'wall', 'target', 'cpu', 'rss', 'met'] as const;
  const all = [header, ...rows];
  const width = keys.map((k) => Math.max(...all.map((r) => [...r[k]].length)));
  const line = (r: Row): string =>
    `| ${keys.map((k, i) => r[k].padEnd(width[i]! + r[k].length - [...r[k]].length)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}
