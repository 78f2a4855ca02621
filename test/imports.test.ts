// The import graph of src/: static, dynamic and type-only edges. No cycles; nothing in the
// library imports the CLI; a CLI mode (run-single, run-many, run-daemon) imports neither the
// entry point main.ts nor another mode. The checks run on a made-up graph first, so a checker
// that finds nothing cannot pass unnoticed.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const SRC = resolve(import.meta.dirname, '../src');
const MODES = ['cli/run-single.ts', 'cli/run-many.ts', 'cli/run-daemon.ts', 'cli/run-farm.ts'];

type Graph = Map<string, string[]>;

/** Module specifiers of every import, export-from and import() in `code`. */
export function specifiers(code: string): string[] {
  const text = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const m of text.matchAll(pattern)) found.push(m[1]!);
  }
  return found;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** src/-relative file → the src/ files it imports. */
async function importGraph(): Promise<Graph> {
  const graph: Graph = new Map();
  for (const file of await sourceFiles(SRC)) {
    const edges: string[] = [];
    for (const spec of specifiers(await readFile(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      edges.push(relative(SRC, target));
    }
    graph.set(relative(SRC, file), [...new Set(edges)]);
  }
  return graph;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(graph: Graph): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

/** Edges that break the layering rules, as "from -> to". */
export function forbiddenEdges(graph: Graph): string[] {
  const bad: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const libraryToCli = !from.startsWith('cli/') && to.startsWith('cli/');
      const modeToEntry = MODES.includes(from) && (to === 'cli/main.ts' || MODES.includes(to));
      if (libraryToCli || modeToEntry) bad.push(`${from} -> ${to}`);
    }
  }
  return bad;
}

describe('import graph of src/', () => {
  it('the checks find what they look for on a made-up graph', () => {
    assert.deepEqual(
      specifiers(
        [
          "import { a } from './a.js';",
          "import type { B } from '../b.js';",
          "export { c } from './c.js';",
          "import './side.js';",
          "const { d } = await import('./d.js');",
          "// import { e } from './e.js';",
          '/* import("./f.js") */',
        ].join('\n'),
      ).sort(),
      ['../b.js', './a.js', './c.js', './d.js', './side.js'],
    );
    const graph: Graph = new Map([
      ['cli/main.ts', ['cli/run-daemon.ts']],
      ['cli/run-daemon.ts', ['cli/main.ts', 'cli/run-single.ts']],
      ['cli/run-single.ts', []],
      ['engine/x.ts', ['engine/x.ts', 'cli/exit-codes.ts']],
      ['cli/exit-codes.ts', []],
    ]);
    assert.deepEqual(cycles(graph), [['cli/main.ts', 'cli/run-daemon.ts'], ['engine/x.ts']]);
    assert.deepEqual(forbiddenEdges(graph).sort(), [
      'cli/run-daemon.ts -> cli/main.ts',
      'cli/run-daemon.ts -> cli/run-single.ts',
      'engine/x.ts -> cli/exit-codes.ts',
    ]);
  });

  it('has no cycle, no library import of cli/, no CLI mode importing main.ts or another mode', async () => {
    const graph = await importGraph();
    assert.ok(graph.size > 40, `${graph.size} files scanned`);
    assert.ok(graph.get('cli/main.ts')?.includes('cli/run-daemon.ts'), 'dynamic imports scanned');
    assert.deepEqual(cycles(graph), []);
    assert.deepEqual(forbiddenEdges(graph), []);
  });

  it('loads BullMQ only in the farm (src/farm/, and the farm commands that import it lazily)', async () => {
    const farmSide = (file: string): boolean =>
      file.startsWith('farm/') || file === 'cli/run-farm.ts';
    const offenders: string[] = [];
    for (const file of await sourceFiles(SRC)) {
      const name = relative(SRC, file);
      if (farmSide(name)) continue;
      for (const spec of specifiers(await readFile(file, 'utf8'))) {
        const target = spec.startsWith('.')
          ? relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts')
          : spec;
        if (target === 'bullmq' || target.startsWith('farm/') || target === 'cli/run-farm.ts') {
          if (!(name === 'cli/main.ts' && target === 'cli/run-farm.ts'))
            offenders.push(`${name} -> ${target}`);
        }
      }
    }
    assert.deepEqual(offenders, []);
    const main = await readFile(join(SRC, 'cli/main.ts'), 'utf8');
    assert.match(main, /await import\('\.\/run-farm\.js'\)/, 'main.ts loads the farm lazily');
  });
});
