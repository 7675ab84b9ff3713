// Runs every ```apdu block of docs/sim-apdus.md against a fresh test SIM: the documented responses
// are exactly what the applet answers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/bytes.js';
import { SimCard } from '../../../src/sim/index.js';
import { docState } from './helpers.js';

interface Block {
  given: string[];
  steps: { command: string; response: string }[];
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  for (const m of markdown.matchAll(/```apdu\n([\s\S]*?)```/g)) {
    const block: Block = { given: [], steps: [] };
    let command: string | undefined;
    for (const line of m[1]!.split('\n')) {
      const given = /^# given: card ([0-9a-f]{32}) bound$/.exec(line);
      if (given) block.given.push(given[1]!);
      else if (line.startsWith('> ')) command = line.slice(2).replace(/\s/g, '');
      else if (line.startsWith('< ')) {
        block.steps.push({ command: command!, response: line.slice(2).replace(/\s/g, '') });
        command = undefined;
      }
    }
    out.push(block);
  }
  return out;
}

const doc = readFileSync(new URL('../../../docs/sim-apdus.md', import.meta.url), 'utf8');

describe('docs/sim-apdus.md examples', () => {
  const all = blocks(doc);
  it('has examples', () => {
    expect(all.length).toBeGreaterThanOrEqual(5);
  });
  all.forEach((block, i) => {
    it(`block ${i + 1} (${block.steps.length} APDUs)`, async () => {
      const sim = new SimCard(await docState(block.given));
      for (const step of block.steps) {
        expect({
          command: step.command,
          response: toHex(await sim.transmit(fromHex(step.command))),
        }).toEqual(step);
      }
    });
  });
});
