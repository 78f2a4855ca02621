// The daemon's page: the download list, adding, pausing, resuming, removing, the global limits,
// and a detail view with the segment map. It talks to the daemon only over its own JSON-RPC on a
// WebSocket, as any aria2 front end does; the secret, when one is needed, is asked once and kept
// in this tab's sessionStorage (never in a URL).

import { Rpc, RpcFailure } from './rpc.js';
import { colourOf, drawMap, type Segments } from './segment-map.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

const REFRESH_MS = 500;
const SECRET_KEY = 'qget-secret';
const KEYS = [
  'gid',
  'status',
  'totalLength',
  'completedLength',
  'downloadSpeed',
  'connections',
  'files',
  'errorMessage',
];

interface Status {
  gid: string;
  status: string;
  totalLength: string;
  completedLength: string;
  downloadSpeed: string;
  connections: string;
  errorMessage?: string;
  files?: { path: string; uris: { uri: string }[] }[];
}

interface Row {
  tr: HTMLTableRowElement;
  name: HTMLButtonElement;
  cells: Record<'size' | 'speed' | 'eta' | 'conns' | 'state' | 'pct', HTMLElement>;
  bar: HTMLElement;
  fill: HTMLElement;
  pause: HTMLButtonElement;
  resume: HTMLButtonElement;
}

const rpc = new Rpc(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/jsonrpc`);
const rows = new Map<string, Row>();
let statuses = new Map<string, Status>();
let selected: string | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let refreshing = false;

// ---- formatting ----

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${UNITS[i]}`;
}
function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '–';
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
/** A byte count as aria2 takes it back: 2M, 500K, or plain bytes. */
function sizeText(value: string): string {
  const n = Number(value);
  if (n > 0 && n % (1024 * 1024) === 0) return `${n / 1024 / 1024}M`;
  if (n > 0 && n % 1024 === 0) return `${n / 1024}K`;
  return value;
}
function nameOf(s: Status): string {
  const file = s.files?.[0];
  const path = file?.path ?? '';
  if (path !== '') return path.split(/[\\/]/).pop() ?? path;
  const uri = file?.uris[0]?.uri ?? '';
  try {
    return decodeURIComponent(new URL(uri).pathname.split('/').pop() || uri) || s.gid;
  } catch {
    return uri || s.gid;
  }
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function showError(id: string, err: unknown): void {
  $(id).textContent = err instanceof Error ? err.message : String(err ?? '');
}

/** Run an action from a button or form: its error shown next to it, then a refresh. */
function act(errorId: string, fn: () => Promise<unknown>): void {
  showError(errorId, '');
  fn().then(
    () => refresh(),
    (err) => showError(errorId, err),
  );
}

// ---- the list ----

function makeRow(gid: string): Row {
  const cell = (className = 'num') => el('td', { className });
  const name = el('button', { type: 'button', title: 'Show the segment map' });
  name.addEventListener('click', () => select(gid));
  const fill = el('div', { className: 'fill' });
  const pct = el('span', { className: 'num' });
  const bar = el('div', { className: 'track' }, fill);
  bar.setAttribute('role', 'progressbar');
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', '100');
  const pause = el('button', { type: 'button', textContent: 'Pause' });
  const resume = el('button', { type: 'button', textContent: 'Resume' });
  const remove = el('button', { type: 'button', textContent: 'Remove' });
  pause.addEventListener('click', () => act('list-error', () => rpc.call('aria2.pause', gid)));
  resume.addEventListener('click', () => act('list-error', () => rpc.call('aria2.unpause', gid)));
  remove.addEventListener('click', () => act('list-error', () => removeOne(gid)));
  const cells = {
    size: cell(),
    speed: cell(),
    eta: cell(),
    conns: cell(),
    state: cell(''),
    pct,
  };
  const tr = el(
    'tr',
    {},
    el('td', { className: 'name' }, name),
    cells.size,
    el('td', {}, el('div', { className: 'progress' }, bar, pct)),
    cells.speed,
    cells.eta,
    cells.conns,
    cells.state,
    el('td', {}, pause, resume, ' ', remove),
  );
  return { tr, name, cells, bar, fill, pause, resume };
}

function removeOne(gid: string): Promise<unknown> {
  const s = statuses.get(gid);
  if (s && ['complete', 'error', 'removed'].includes(s.status)) {
    return rpc.call('aria2.removeDownloadResult', gid);
  }
  if (selected === gid) select(undefined);
  return rpc.call('aria2.remove', gid);
}

function updateRow(row: Row, s: Status): void {
  const total = Number(s.totalLength);
  const done = Number(s.completedLength);
  const speed = Number(s.downloadSpeed);
  const pct =
    total > 0 ? Math.floor((done / total) * 1000) / 10 : s.status === 'complete' ? 100 : 0;
  const name = nameOf(s);
  if (row.name.textContent !== name) row.name.textContent = name;
  row.cells.size.textContent = total > 0 ? bytes(total) : '–';
  row.cells.pct.textContent = `${pct.toFixed(1)}%`;
  row.bar.setAttribute('aria-valuenow', String(pct));
  row.bar.setAttribute('aria-label', `${name}: ${pct.toFixed(1)}%`);
  row.fill.style.width = `${pct}%`;
  const active = s.status === 'active';
  row.cells.speed.textContent = active ? `${bytes(speed)}/s` : '';
  row.cells.eta.textContent =
    active && speed > 0 && total > 0 ? duration((total - done) / speed) : '';
  row.cells.conns.textContent = active ? s.connections : '';
  row.cells.state.textContent = s.status;
  row.cells.state.className = `state-${s.status}`;
  row.cells.state.title = s.errorMessage ?? '';
  row.tr.className = `${s.status}${selected === s.gid ? ' selected' : ''}`;
  row.pause.hidden = !(active || s.status === 'waiting');
  row.resume.hidden = s.status !== 'paused';
}

function render(list: Status[]): void {
  statuses = new Map(list.map((s) => [s.gid, s]));
  const body = $('list').querySelector('tbody')!;
  for (const [gid, row] of rows) {
    if (!statuses.has(gid)) {
      row.tr.remove();
      rows.delete(gid);
    }
  }
  list.forEach((s, i) => {
    let row = rows.get(s.gid);
    if (!row) {
      row = makeRow(s.gid);
      rows.set(s.gid, row);
    }
    updateRow(row, s);
    if (body.children[i] !== row.tr) body.insertBefore(row.tr, body.children[i] ?? null);
  });
  $('empty').hidden = list.length > 0;
  if (selected !== undefined && !statuses.has(selected)) select(undefined);
}

// ---- the detail view ----

function select(gid: string | undefined): void {
  selected = gid;
  $('detail').hidden = gid === undefined;
  for (const [g, row] of rows) row.tr.classList.toggle('selected', g === gid);
  if (gid !== undefined) void refreshDetail();
}

async function refreshDetail(): Promise<void> {
  const gid = selected;
  if (gid === undefined) return;
  const seg = (await rpc.call('qget.tellSegments', gid)) as Segments;
  if (gid !== selected) return;
  const s = statuses.get(gid);
  const onDisk = seg.done.reduce((n, [a, b]) => n + b - a, 0);
  $('detail-title').textContent = `Segments of ${s ? nameOf(s) : gid}`;
  $('detail-info').textContent =
    `${bytes(onDisk)} of ${bytes(seg.totalLength)} on disk in ${seg.done.length} range(s); ` +
    `${seg.connections.length} connection(s); ${seg.status}`;
  const summary = drawMap($<HTMLCanvasElement>('map'), seg);
  $('map').setAttribute('aria-label', summary);
  const body = $('conns').querySelector('tbody')!;
  body.replaceChildren(
    ...seg.connections.map((c) => {
      const swatch = el('span', { className: 'swatch' });
      swatch.style.background = colourOf(c.id);
      return el(
        'tr',
        {},
        el('td', {}, swatch, `#${c.id}${c.transferring ? '' : ' (waiting)'}`),
        el('td', { className: 'num' }, c.start === undefined ? '–' : `${c.start}–${c.end! - 1}`),
        el(
          'td',
          { className: 'num' },
          c.start === undefined ? '–' : `${bytes(c.pos! - c.start)} of ${bytes(c.end! - c.start)}`,
        ),
        el('td', { className: 'num' }, c.speed < 0 ? '–' : `${bytes(c.speed)}/s`),
        el('td', {}, c.lastError || ''),
      );
    }),
  );
}

// ---- refreshing ----

async function refresh(): Promise<void> {
  if (refreshing) return;
  refreshing = true;
  clearTimeout(timer);
  try {
    const [active, waiting, stopped, stat] = (await rpc.multicall([
      ['aria2.tellActive', KEYS],
      ['aria2.tellWaiting', 0, 1000, KEYS],
      ['aria2.tellStopped', 0, 1000, KEYS],
      ['aria2.getGlobalStat'],
    ])) as [Status[], Status[], Status[], Record<string, string>];
    render([...active, ...waiting, ...stopped]);
    $('stat').textContent =
      `${bytes(Number(stat.downloadSpeed))}/s · ${stat.numActive} active, ` +
      `${stat.numWaiting} waiting, ${stat.numStopped} stopped`;
    await refreshDetail();
  } catch (err) {
    if (!(err instanceof RpcFailure && err.code === 1)) showError('list-error', err);
  } finally {
    refreshing = false;
    timer = setTimeout(() => void refresh(), REFRESH_MS);
  }
}

async function loadGlobals(): Promise<void> {
  const o = (await rpc.call('aria2.getGlobalOption')) as Record<string, string>;
  $<HTMLInputElement>('speed-limit').value = sizeText(o['max-overall-download-limit'] ?? '0');
  $<HTMLInputElement>('max-downloads').value = o['max-concurrent-downloads'] ?? '';
}

// ---- forms ----

function value(id: string): string {
  return $<HTMLInputElement>(id).value.trim();
}

$('add').addEventListener('submit', (e) => {
  e.preventDefault();
  const urls = value('url')
    .split('\n')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  const options: Record<string, string> = {};
  if (value('dir') !== '') options.dir = value('dir');
  if (value('out') !== '' && urls.length === 1) options.out = value('out');
  if (value('split') !== '') {
    options.split = value('split');
    options['max-connection-per-server'] = value('split');
  }
  if (value('limit') !== '') options['max-download-limit'] = value('limit');
  act('add-error', async () => {
    if (urls.length === 0) throw new Error('Give at least one URL.');
    if (value('out') !== '' && urls.length > 1) throw new Error('A name needs exactly one URL.');
    await rpc.multicall(urls.map((u) => ['aria2.addUri', [u], options]));
    $<HTMLTextAreaElement>('url').value = '';
    $<HTMLInputElement>('out').value = '';
  });
});

$('global').addEventListener('submit', (e) => {
  e.preventDefault();
  const options: Record<string, string> = {};
  if (value('speed-limit') !== '') options['max-overall-download-limit'] = value('speed-limit');
  if (value('max-downloads') !== '') options['max-concurrent-downloads'] = value('max-downloads');
  act('global-error', async () => {
    await rpc.call('aria2.changeGlobalOption', options);
    await loadGlobals();
  });
});

$('pause-all').addEventListener('click', () => act('list-error', () => rpc.call('aria2.pauseAll')));
$('resume-all').addEventListener('click', () =>
  act('list-error', () => rpc.call('aria2.unpauseAll')),
);
$('remove-all').addEventListener('click', () =>
  act('list-error', async () => {
    const unfinished = [...statuses.values()].filter(
      (s) => !['complete', 'error', 'removed'].includes(s.status),
    );
    if (unfinished.length > 0) {
      await rpc.multicall(unfinished.map((s) => ['aria2.remove', s.gid]));
    }
    await rpc.call('aria2.purgeDownloadResult');
    select(undefined);
  }),
);
$('detail-close').addEventListener('click', () => select(undefined));

// ---- connecting ----

rpc.onState = (up, message) => {
  $('link').textContent = message;
  $('link').classList.toggle('down', !up);
};
rpc.onNotification = () => void refresh();

async function start(): Promise<void> {
  rpc.secret = sessionStorage.getItem(SECRET_KEY) ?? undefined;
  try {
    await rpc.call('aria2.getVersion');
  } catch (err) {
    if (err instanceof RpcFailure && err.code === 1) {
      askSecret(rpc.secret !== undefined);
      return;
    }
    throw err;
  }
  $('login').hidden = true;
  $('app').hidden = false;
  await loadGlobals();
  await refresh();
}

function askSecret(wrong: boolean): void {
  $('login').hidden = false;
  $('app').hidden = true;
  $('login-error').textContent = wrong ? 'The secret was refused.' : '';
  $('secret').focus();
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const secret = $<HTMLInputElement>('secret').value;
  sessionStorage.setItem(SECRET_KEY, secret);
  $<HTMLInputElement>('secret').value = '';
  start().catch((err) => showError('login-error', err));
});

start().catch((err) => showError('list-error', err));
