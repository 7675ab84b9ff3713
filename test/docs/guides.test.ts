// The guides are programs: every ```ts block of a guide, in order, is one module that imports
// only public entry points (`simvault/...`, mapped to src/ here as the package's exports map
// them to dist/). Each guide is type-checked under the project's strict options, then run with
// its console output captured; servers listen on loopback port 0 and SQLite lives in a
// temporary folder, as the guides themselves say. The first example of each entry point's module
// page (the `@module` comment of src/<entry>/index.ts) is checked and run the same way.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';

const GUIDES = ['docs/guide-handset.md', 'docs/guide-operator.md'];
const ENTRIES = ['crypto', 'protocol', 'card', 'sim', 'handset', 'node', 'server'];
const work = join('test', 'docs', '.guides');

/** The `ts` code blocks of a markdown text. */
function blocksOf(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

function compilerOptions(): ts.CompilerOptions {
  const read = ts.readConfigFile('tsconfig.json', (p) => ts.sys.readFile(p));
  const options = ts.parseJsonConfigFileContent(read.config, ts.sys, '.').options;
  const paths: Record<string, string[]> = { simvault: ['./src/index.ts'] };
  for (const e of ENTRIES) paths[`simvault/${e}`] = [`./src/${e}/index.ts`];
  return { ...options, noEmit: true, paths, baseUrl: '.' };
}

mkdirSync(work, { recursive: true });
afterAll(() => {
  if (!process.env['KEEP_GUIDES']) rmSync(work, { recursive: true, force: true });
});

/** An entry's module comment without its ` * ` margin. */
function moduleComment(file: string): string {
  const text = readFileSync(file, 'utf8');
  return text
    .slice(0, text.indexOf('@module'))
    .split('\n')
    .map((l) => l.replace(/^ \* ?/, ''))
    .join('\n');
}

// A guide is all its blocks in order; a module page runs its first example (later ones may be
// sketches with the integrator's readers and URLs).
const PROGRAMS = [
  ...GUIDES.map((guide) => {
    const blocks = blocksOf(readFileSync(guide, 'utf8'));
    return { title: guide, name: guide.replace(/^docs\/|\.md$/g, ''), blocks };
  }),
  ...['', ...ENTRIES].map((e) => {
    const file = e === '' ? 'src/index.ts' : `src/${e}/index.ts`;
    const first = blocksOf(moduleComment(file)).slice(0, 1);
    return { title: `the module page of ${file}`, name: `module-${e || 'root'}`, blocks: first };
  }),
];

describe.each(PROGRAMS)('$title', ({ name, blocks }) => {
  const source = blocks.join('\n');
  const file = join(work, `${name}.ts`);
  writeFileSync(file, `${source}\nexport {};\n`);

  it('has code, importing only the public entry points', () => {
    expect(blocks.length).toBeGreaterThan(0);
    const specifiers = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
    const own = specifiers.filter((s) => !s.startsWith('node:'));
    expect(own.length).toBeGreaterThan(0);
    for (const s of own)
      expect(s).toMatch(/^simvault(\/(crypto|protocol|card|sim|handset|node|server))?$/);
  });

  it('type-checks as one strict program', () => {
    const program = ts.createProgram([file], compilerOptions());
    const diagnostics = ts
      .getPreEmitDiagnostics(program, program.getSourceFile(file))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });

  it('runs', async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    });
    try {
      await import(/* @vite-ignore */ `../../${file}`);
    } finally {
      log.mockRestore();
    }
    writeFileSync(join(work, `${name}.out`), lines.join('\n'));
    expect(lines.length).toBeGreaterThan(0);
  });
});
