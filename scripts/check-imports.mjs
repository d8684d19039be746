// Checks the import graph of src/ (run by `npm test`; exits 1 on a violation, naming the files):
//   1. no import cycles, type-only imports included: a cycle says two files share a concept that
//      has no home yet;
//   2. src/report renders and never computes: outside src/report it imports only types, or
//      values from the data-only modules listed in REPORT_MAY_IMPORT (constants, no logic);
//   3. layers point one way: a folder never imports from a folder above it (LAYER_ABOVE).
// Usage: node scripts/check-imports.mjs [SRC_DIR]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src'));

/** Modules src/report may take values from: constants and data shapes, no computation. */
const REPORT_MAY_IMPORT = new Set(['analysis/categories.ts', 'analysis/view-data.ts', 'model/profile.ts']);

/** For each folder, the folders that call it and that it must therefore never import. */
const LAYER_ABOVE = {
  store: ['cli', 'pipeline', 'collect', 'lab', 'watch'],
  analysis: ['cli', 'pipeline', 'report', 'collect', 'lab', 'store', 'watch'],
  model: [
    'cli',
    'pipeline',
    'analysis',
    'report',
    'formats',
    'collect',
    'lab',
    'store',
    'signatures',
    'watch',
  ],
  formats: ['cli', 'pipeline', 'analysis', 'report', 'collect', 'lab', 'store', 'watch'],
  report: ['cli', 'pipeline', 'watch'],
  pipeline: ['cli', 'watch'],
  signatures: ['cli', 'pipeline', 'analysis', 'report', 'watch'],
  collect: ['cli', 'pipeline', 'watch'],
  watch: ['cli'],
};

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

// `import x from`, `import type {..} from`, `export {..} from`, `import './x'`, `import('./x')`.
const STATIC = /(?:^|[\n;])\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/g;
const BARE = /(?:^|[\n;])\s*import\s+['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
// A worker started by URL (`new Worker(new URL('./parse-worker.js', ...))`) is not an import: it
// runs in its own thread with its own module graph, so it is no edge here.

/** Every relative import of a file: target path and whether it brings only types. */
function importsOf(file) {
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const out = [];
  const add = (spec, typeOnly) => {
    if (!spec.startsWith('.')) return;
    let target = resolve(dirname(file), spec);
    if (!existsSync(target) && existsSync(target.replace(/\.js$/, '.ts')))
      target = target.replace(/\.js$/, '.ts');
    if (existsSync(target) && /\.tsx?$/.test(target)) out.push({ target, typeOnly });
  };
  for (const m of text.matchAll(STATIC)) {
    const clause = m[3].trim();
    const named = /^\{([\s\S]*)\}$/.exec(clause);
    const allTypes =
      named?.[1]
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .every((s) => s.startsWith('type ')) === true;
    add(m[4], m[2] !== undefined || allTypes);
  }
  for (const m of text.matchAll(BARE)) add(m[1], false);
  for (const m of text.matchAll(DYNAMIC)) add(m[1], false);
  return out;
}

const files = sourceFiles(root);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f) => relative(root, f);
const folderOf = (f) => rel(f).split('/')[0];
const problems = [];

// 1. Cycles: Tarjan's strongly connected components; each component of 2+ files (or a file
//    importing itself) is reported with one cycle through it.
{
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const components = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const { target: w } of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const c = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (graph.get(v) ?? []).some((e) => e.target === v)) components.push(c);
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  for (const c of components) {
    const inC = new Set(c);
    const path = [c[0]];
    const seen = new Set(path);
    for (;;) {
      const next = (graph.get(path.at(-1)) ?? []).map((e) => e.target).find((t) => inC.has(t));
      if (next === undefined || seen.has(next)) {
        path.push(next ?? c[0]);
        break;
      }
      path.push(next);
      seen.add(next);
    }
    problems.push(`import cycle: ${path.map(rel).join(' -> ')}`);
  }
}

for (const [file, imports] of graph) {
  const from = folderOf(file);
  for (const { target, typeOnly } of imports) {
    const to = folderOf(target);
    // 2. The report renders.
    if (from === 'report' && to !== 'report' && !typeOnly && !REPORT_MAY_IMPORT.has(rel(target)))
      problems.push(
        `src/report computes: ${rel(file)} imports values from ${rel(target)} (only types, or ${[...REPORT_MAY_IMPORT].join(', ')})`,
      );
    // 3. Layers.
    if ((LAYER_ABOVE[from] ?? []).includes(to))
      problems.push(`layer: ${rel(file)} (${from}) imports ${rel(target)} (${to}, which calls ${from})`);
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(`check-imports: ${p}`);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files, no cycles, src/report only renders, layers point one way`);
