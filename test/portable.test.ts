// The portable layers run in browsers and other JavaScript runtimes: they import nothing from
// `node:` (Node-only code lives in src/node, src/server and src/cli).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const PORTABLE = ['crypto', 'protocol', 'card', 'sim', 'handset'];
const root = new URL('../src/', import.meta.url).pathname;

function files(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('portable layers', () => {
  it('import nothing from node: and nothing from the Node-only folders', () => {
    const offenders: string[] = [];
    for (const layer of PORTABLE) {
      for (const f of files(join(root, layer))) {
        const text = readFileSync(f, 'utf8');
        for (const m of text.matchAll(/^\s*(?:import|export)[^;]*?from\s+['"]([^'"]+)['"]/gm)) {
          const spec = m[1]!;
          if (
            spec.startsWith('node:') ||
            /^(fs|path|os|crypto|stream|child_process)(\/|$)/.test(spec) ||
            /\/(node|server|cli)\//.test(spec)
          ) {
            offenders.push(`${f.slice(root.length)} imports ${spec}`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
