// Tests for the terminal views (src/cli/table-view.ts, progress-view.ts, text-fit.ts): every
// frame fits a terminal of 40, 80 and 200 columns and 12 rows, and the live table redrawn on a
// small emulated terminal stays in place (one copy, nothing scrolled away) across resizes.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { type BarInfo, renderBar } from '../src/cli/progress-view.js';
import { LiveTable, type RowInfo, renderTable } from '../src/cli/table-view.js';
import { displayWidth, fitMiddle } from '../src/cli/text-fit.js';
import type { DownloaderState } from '../src/index.js';

const MiB = 1024 * 1024;
const STATES: DownloaderState[] = ['download', 'pause', 'complete', 'error', 'start'];

function rows(n: number, name: (i: number) => string = (i) => `file-${i}.iso`): RowInfo[] {
  return Array.from({ length: n }, (_, i) => ({
    state: STATES[i % STATES.length]!,
    speed: i * 3.7 * MiB,
    downloaded: i * 123_456_789,
    size: i % 7 === 3 ? -1 : 2 ** 40,
    eta: i % 4 === 0 ? null : i * 3671,
    name: name(i),
  }));
}

const NAMES: Array<[string, (i: number) => string]> = [
  ['short names', (i) => `f${i}`],
  ['long names', (i) => `${'a-very-long-file-name-'.repeat(8)}${i}.tar.gz`],
  ['wide characters', (i) => `日本語のファイル名-${i}-データ.zip`],
  ['URLs', (i) => `https://example.com/some/deep/path/to/download/${i}?token=abc`],
];

function assertFits(lines: string[], columns: number, height: number, what: string): void {
  assert.ok(lines.length <= height - 1, `${what}: ${lines.length} lines in ${height} rows`);
  for (const l of lines) {
    assert.ok(displayWidth(l) <= columns - 1, `${what}: ${displayWidth(l)} > ${columns - 1}: ${l}`);
  }
}

describe('renderTable', () => {
  for (const columns of [40, 80, 200]) {
    for (const [label, name] of NAMES) {
      it(`fits ${columns}x12 with 0 to 30 downloads (${label})`, () => {
        for (let n = 0; n <= 30; n++) {
          assertFits(renderTable(rows(n, name), columns, 12), columns, 12, `${n} rows`);
        }
      });
    }
  }

  it('fits any size from 1x1 to 120x30', () => {
    const all = rows(25, NAMES[1]![1]);
    for (let columns = 1; columns <= 120; columns += columns < 50 ? 1 : 7) {
      for (let height = 1; height <= 30; height += height < 14 ? 1 : 5) {
        const lines = renderTable(all, columns, height);
        assert.ok(lines.length >= 1 && lines.length <= Math.max(1, height - 1));
        for (const l of lines) assert.ok(displayWidth(l) <= Math.max(1, columns - 1));
      }
    }
  });

  it('shows the running downloads first, then says how many more wait', () => {
    const many: RowInfo[] = Array.from({ length: 20 }, (_, i) => ({
      state: i >= 14 ? 'download' : 'pause',
      speed: MiB,
      downloaded: MiB,
      size: 10 * MiB,
      eta: 9,
      name: `part-${i}`,
    }));
    const lines = renderTable(many, 80, 12);
    // header, 8 rows, the "more" line, the total row: 11 lines under 12 rows
    assert.equal(lines.length, 11);
    assert.match(lines[0]!, /^state +speed +got +% +eta name$/);
    const shown = lines.slice(1, 9);
    assert.ok(
      shown.slice(0, 6).every((l) => l.startsWith('running')),
      shown.join('\n'),
    );
    assert.ok(shown.slice(6).every((l) => l.startsWith('waiting')));
    assert.equal(lines[9], '… and 12 more waiting');
    assert.match(lines[10]!, /^total .* 0\/20 done$/);
  });

  it('names the states in words, with the kinds of the rows it hides', () => {
    const lines = renderTable(rows(20), 80, 12);
    const words = new Set(lines.slice(1, -2).map((l) => l.split(' ')[0]));
    for (const w of words)
      assert.ok(['running', 'opening', 'failed', 'waiting', 'done'].includes(w!));
    assert.match(lines.at(-2)!, /^… and 12 more \(\d+ failed, \d+ waiting, \d+ done\)$/);
  });

  it('keeps percent, ETA and 14 columns of name at 40 columns (speed in the total), every column at 80', () => {
    const one = rows(2);
    const narrow = renderTable(one, 40, 12);
    assert.match(narrow[0]!, /^state +% +eta name$/);
    assert.match(narrow[2]!, /^waiting +0\.0% +1h01m file-1\.iso$/);
    assert.match(narrow.at(-1)!, /^total +0\.0% +>99h 3\.70 MiB\/s 0\/2$/);
    const wide = renderTable(one, 80, 12);
    assert.match(wide[2]!, /^waiting +3\.70 MiB\/s +118 MiB +0\.0% +1h01m file-1\.iso$/);
    assert.match(wide.at(-1)!, /^total +3\.70 MiB\/s +118 MiB +0\.0% +>99h 0\/2 done$/);
  });
});

describe('renderBar', () => {
  const info: BarInfo = {
    name: 'ubuntu-24.04.1-desktop-amd64.iso',
    bytes: 1.5 * 2 ** 30,
    total: 6 * 2 ** 30,
    speed: 42.3 * MiB,
    eta: 123,
    connections: 16,
  };

  it('shows the connections per source with mirrors', () => {
    assert.match(renderBar({ ...info, perSource: [4, 4, 3] }, 120), / 4\+4\+3 conn/);
    assert.match(renderBar({ ...info, perSource: [16] }, 120), / 16 conn/);
  });

  it('fits every width from 1 to 200, and keeps the speed and ETA from 30 columns', () => {
    for (const i of [info, { ...info, total: undefined }, { ...info, name: '日本語'.repeat(20) }]) {
      for (let columns = 1; columns <= 200; columns++) {
        const line = renderBar(i, columns);
        assert.ok(displayWidth(line) <= Math.max(1, columns - 1), `${columns}: ${line}`);
        if (columns >= 30) assert.match(line, /42\.3 MiB\/s/, `${columns}: ${line}`);
        if (columns >= 30 && i.total !== undefined) assert.match(line, /ETA 2m03s/);
      }
    }
  });

  it('shortens the name in the middle first, then the bar', () => {
    const at80 = renderBar(info, 80);
    assert.match(
      at80,
      /^ubunt…\.iso +25\.0% \[=+> +\] 1\.50 GiB\/6\.00 GiB {2}42\.3 MiB\/s {2}ETA 2m03s {2}16 conn$/,
    );
    assert.equal(renderBar(info, 200).split(' ')[0], info.name);
    const at60 = renderBar(info, 60);
    assert.ok(at60.startsWith('ubunt…'));
    assert.match(at60, /^ubunt…\.iso +25\.0% \[=+> +\] 42\.3 MiB\/s {2}ETA 2m03s$/);
    assert.match(renderBar(info, 40), /25\.0% .*42\.3 MiB\/s {2}ETA 2m03s$/);
  });
});

describe('fitMiddle', () => {
  it('keeps the start and the end', () => {
    assert.equal(fitMiddle('abcdefghij', 5), 'ab…ij');
    assert.equal(fitMiddle('abc', 5), 'abc');
    assert.equal(fitMiddle('日本語のファイル', 7), '日本…ル');
  });
});

/**
 * A terminal screen: `columns` x `rows` cells, a cursor, autowrap, scrolling into `scrolled`,
 * and the sequences the views write (CR, LF as CR LF, CSI n A, CSI J). No reflow on resize.
 */
class FakeTerminal extends EventEmitter {
  screen: string[][];
  scrolled: string[] = [];
  row = 0;
  col = 0;
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
    this.screen = Array.from({ length: rows }, () => []);
  }
  resize(columns: number, rows: number): void {
    while (this.screen.length > rows) {
      if (this.row > 0) {
        this.scrolled.push(this.screen.shift()!.join(''));
        this.row--;
      } else this.screen.pop();
    }
    while (this.screen.length < rows) this.screen.push([]);
    this.screen = this.screen.map((l) => l.slice(0, columns));
    this.columns = columns;
    this.rows = rows;
    this.col = Math.min(this.col, columns - 1);
    this.emit('resize');
  }
  #lineFeed(): void {
    this.col = 0;
    if (this.row === this.rows - 1) {
      this.scrolled.push(this.screen.shift()!.join(''));
      this.screen.push([]);
    } else this.row++;
  }
  write(text: string): boolean {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === '\r') this.col = 0;
      else if (ch === '\n') this.#lineFeed();
      else if (ch === '\x1b') {
        const m = /^\[(\d*)([AJK])/.exec(text.slice(i + 1));
        assert.ok(m, `unknown sequence ${JSON.stringify(text.slice(i, i + 6))}`);
        i += m[0].length;
        if (m[2] === 'A') this.row = Math.max(0, this.row - Number(m[1] || 1));
        else if (m[2] === 'J') {
          this.screen[this.row] = this.screen[this.row]!.slice(0, this.col);
          for (let r = this.row + 1; r < this.rows; r++) this.screen[r] = [];
        } else this.screen[this.row] = [];
      } else {
        if (this.col >= this.columns) this.#lineFeed();
        const line = this.screen[this.row]!;
        while (line.length < this.col) line.push(' ');
        line[this.col++] = ch;
        // a wide character takes a second cell
        if (displayWidth(ch) === 2) line[this.col++] = '';
      }
    }
    return true;
  }
  text(): string[] {
    return [...this.scrolled, ...this.screen.map((l) => l.join(''))];
  }
}

describe('LiveTable on a terminal', () => {
  it('redraws in place at 40, 80 and 200 columns and across resizes', () => {
    const term = new FakeTerminal(80, 12);
    term.write('$ qget -i list.txt\n');
    const table = new LiveTable(term);
    const frames: Array<[number, number, number]> = [];
    for (let n = 1; n <= 30; n++) frames.push([80, 12, n]);
    for (const [columns, height] of [
      [200, 12],
      [40, 12],
      [80, 12],
      [80, 6],
      [200, 30],
      [40, 12],
    ]) {
      for (let n = 1; n <= 25; n += 4) frames.push([columns!, height!, n]);
    }
    let shrunk = false;
    for (const [columns, height, n] of frames) {
      if (columns !== term.columns || height !== term.rows) {
        shrunk ||= columns < term.columns || height < term.rows;
        term.resize(columns, height);
      }
      table.drawRows(rows(n, NAMES[1]![1]));
      const text = term.text();
      const totals = text.filter((l) => l.startsWith('total'));
      assert.equal(
        totals.length,
        1,
        `one total row after ${n} rows at ${columns}x${height}:\n${text.join('\n')}`,
      );
      // the table is the last thing on screen, the cursor below it
      const drawn = renderTable(rows(n, NAMES[1]![1]), columns, height);
      const screen = term.screen.map((l) => l.join(''));
      assert.deepEqual(screen.slice(term.row - drawn.length, term.row), drawn);
      assert.ok(screen.slice(term.row).every((l) => l === ''));
      // nothing but the command line was ever pushed off the screen
      assert.ok(
        term.scrolled.every((l) => l.startsWith('$ qget') || shrunk),
        term.scrolled.join('\n'),
      );
      if (!shrunk) assert.equal(text[0], '$ qget -i list.txt');
    }
    table.close();
    assert.equal(term.listenerCount('resize'), 0);
  });

  it('redraws at once when the terminal is resized', () => {
    const term = new FakeTerminal(200, 12);
    const table = new LiveTable(term);
    table.drawRows(rows(3));
    const before = term.text().filter((l) => l !== '');
    term.resize(40, 12);
    const after = term.text().filter((l) => l !== '');
    assert.deepEqual(after, renderTable(rows(3), 40, 12));
    assert.notDeepEqual(before, after);
    table.close();
  });
});
