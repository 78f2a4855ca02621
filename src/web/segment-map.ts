// The segment map: the file as one bar, the byte ranges on disk in green, each connection's
// range in flight in its own colour (light for what it has yet to fetch, a dark edge where it is
// now), the rest (not asked for yet, or received and not yet confirmed on disk) grey.

export interface Segments {
  gid: string;
  status: string;
  totalLength: number;
  done: [number, number][];
  connections: {
    id: number;
    start?: number;
    pos?: number;
    end?: number;
    speed: number;
    transferring: boolean;
    lastError: string;
  }[];
}

const HUES = [28, 210, 280, 340, 180, 50, 250, 0, 140, 310, 80, 230];

export function colourOf(id: number, light = 50): string {
  return `hsl(${HUES[id % HUES.length]} 85% ${light}%)`;
}

/** Draw `seg` on `canvas`; returns a one-line text alternative. */
export function drawMap(canvas: HTMLCanvasElement, seg: Segments): string {
  const ctx = canvas.getContext('2d');
  const size = seg.totalLength;
  const width = canvas.width;
  const height = canvas.height;
  if (!ctx) return '';
  ctx.fillStyle = '#e9ecef';
  ctx.fillRect(0, 0, width, height);
  if (size <= 0) return 'size not known yet';
  const x = (byte: number): number => (byte / size) * width;
  const span = (a: number, b: number, y: number, h: number): void => {
    // At least a pixel wide, so a small range stays visible.
    ctx.fillRect(x(a), y, Math.max(1, x(b) - x(a)), h);
  };
  ctx.fillStyle = '#2f9e44';
  for (const [a, b] of seg.done) span(a, b, 0, height);
  const parts: string[] = [];
  for (const c of seg.connections) {
    if (c.start === undefined || c.pos === undefined || c.end === undefined) continue;
    ctx.fillStyle = colourOf(c.id, 78);
    span(c.pos, c.end, 0, height);
    ctx.fillStyle = colourOf(c.id, 45);
    span(c.pos, c.pos + 1, 0, height);
    ctx.fillRect(Math.min(width - 3, x(c.pos)), 0, 3, height);
    parts.push(`connection ${c.id} at byte ${c.pos} of ${c.start}–${c.end}`);
  }
  const onDisk = seg.done.reduce((n, [a, b]) => n + b - a, 0);
  const pct = ((onDisk / size) * 100).toFixed(1);
  return `${pct}% on disk in ${seg.done.length} ranges; ${parts.join('; ') || 'no connection at work'}`;
}
