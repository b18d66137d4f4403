/**
 * The source tree has no import circles, type-only imports included: between files, between the
 * folders of src/ (engine/ with everything under it as one), and between folders at every depth
 * (engine/, engine/pool/, ...; a file at the root of src/ counts alone), so that each module and
 * each folder imports only downwards and the data flow reads from the paths. And the engine's
 * worker thread loads no main-thread engine code: the worker entry reaches only engine/worker/
 * and engine/wire/ of engine/. A plain scan of the import/export-from specifiers of every src/
 * file; a cycle is reported with its path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** Relative specifiers of static imports and re-exports (`import ... from`, `export ... from`, `import('...')` types). */
function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s+'(\.[^']+)'/g), ...text.matchAll(/import\('(\.[^']+)'\)/g)];
  return specifiers.map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
}

/** Every cycle a depth-first walk of `graph` meets, each as its path of nodes. */
function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'active');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'active') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

/** The graph of `group(file)` nodes, with an edge wherever a file of one imports a file of another. */
function groupGraph(files: ReadonlyMap<string, readonly string[]>, group: (file: string) => string): Map<string, string[]> {
  const graph = new Map<string, Set<string>>();
  for (const [from, tos] of files) {
    const a = group(from);
    const edges = graph.get(a) ?? graph.set(a, new Set()).get(a)!;
    for (const to of tos) if (group(to) !== a) edges.add(group(to));
  }
  return new Map([...graph].map(([node, edges]) => [node, [...edges]]));
}

describe('src/ import graph', () => {
  const files = sourceFiles(srcDir);
  const graph = new Map(files.map((f) => [f, localImports(f)]));
  const rel = (file: string): string => relative(srcDir, file).split(sep).join('/');

  it('every relative import names a file that exists', () => {
    const missing = [...graph].flatMap(([from, tos]) => tos.filter((to) => !graph.has(to)).map((to) => `${rel(from)} -> ${rel(to)}`));
    expect(missing).toEqual([]);
  });

  it('has no cycles between files', () => {
    expect(cyclesOf(graph).map((cycle) => cycle.map(rel).join(' -> '))).toEqual([]);
  });

  it('has no cycles between the folders of src/ (a folder with everything under it)', () => {
    const topFolder = (file: string): string => {
      const parts = rel(file).split('/');
      return parts.length > 1 ? `${parts[0]}/` : parts[0]!;
    };
    expect(cyclesOf(groupGraph(graph, topFolder)).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('has no cycles between folders at any depth (engine/ and engine/pool/ are two)', () => {
    const folder = (file: string): string => {
      const path = rel(file);
      return path.includes('/') ? `${path.slice(0, path.lastIndexOf('/'))}/` : path;
    };
    expect(cyclesOf(groupGraph(graph, folder)).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('the engine worker loads no main-thread engine code', () => {
    const reached = new Set<string>();
    const walk = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const next of graph.get(file) ?? []) walk(next);
    };
    walk(join(srcDir, 'engine/worker/entry.ts'));
    const mainThread = [...reached].map(rel).filter((f) => f.startsWith('engine/') && !/^engine\/(worker|wire)\//.test(f));
    expect(mainThread).toEqual([]);
  });
});
