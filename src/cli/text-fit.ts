// Text that fits a terminal: the width a string takes on screen (East Asian wide characters and
// most emoji take two columns, combining marks none) and shortening to a width, in the middle
// (file names keep their start and extension) or at the end.

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u;

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

function charWidth(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (ZERO_WIDTH.test(ch)) return 0;
  return isWide(cp) ? 2 : 1;
}

/** Columns `text` takes on a terminal. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += charWidth(ch);
  return width;
}

/** The longest start of `text` that takes at most `width` columns. */
function head(chars: string[], width: number): string {
  let out = '';
  let used = 0;
  for (const ch of chars) {
    const w = charWidth(ch);
    if (used + w > width) break;
    out += ch;
    used += w;
  }
  return out;
}

/** `text` cut to `width` columns (control characters dropped). */
export function fitEnd(text: string, width: number): string {
  return head([...text], Math.max(0, width));
}

/** `text` in at most `width` columns, its middle replaced by `…` when it is too long. */
export function fitMiddle(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return '';
  if (width === 1) return '…';
  const chars = [...text];
  const tailWidth = Math.floor((width - 1) / 2);
  const tail = [...head([...chars].reverse(), tailWidth)].reverse().join('');
  const start = head(chars, width - 1 - displayWidth(tail));
  return `${start}…${tail}`;
}

/** `text` padded with spaces to `width` columns (cut first if longer). */
export function padTo(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const cut = fitEnd(text, width);
  const fill = ' '.repeat(Math.max(0, width - displayWidth(cut)));
  return align === 'left' ? cut + fill : fill + cut;
}

/** Terminal lines a line of `width` columns takes once the terminal is `columns` wide. */
export function linesTaken(width: number, columns: number): number {
  return Math.max(1, Math.ceil(width / Math.max(1, columns)));
}
