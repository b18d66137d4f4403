/**
 * The source tree has no import circles, type-only imports included: each module imports only
 * downwards, so the data flow reads from the file names. A plain scan of the import/export-from
 * specifiers of every src/ file; a cycle is reported with its path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
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

describe('src/ import graph', () => {
  const files = sourceFiles(srcDir);
  const graph = new Map(files.map((f) => [f, localImports(f)]));

  it('every relative import names a file that exists', () => {
    const missing = [...graph].flatMap(([from, tos]) => tos.filter((to) => !graph.has(to)).map((to) => `${relative(srcDir, from)} -> ${relative(srcDir, to)}`));
    expect(missing).toEqual([]);
  });

  it('has no cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'active' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'active');
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === 'active') {
          cycles.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative(srcDir, f)).join(' -> '));
        } else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});
