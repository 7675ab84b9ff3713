// The example chip of docs/chip-apdus.md, and a reader for the transcripts there.
import { readFileSync } from 'node:fs';
import { fromHex } from '../../../src/bytes.js';
import { SecureChip, type SecureChipOptions } from '../../../src/sim/chip/cos.js';
import { personalizeChip, type ChipState } from '../../../src/sim/chip/state.js';

/** Serial 5356434800000001, chip key 32 × 11, PIN 1234, PUK 12345678, default tries. */
export function docChipState(): ChipState {
  return personalizeChip({
    pin: '1234',
    puk: '12345678',
    serial: fromHex('5356434800000001'),
    chipKey: new Uint8Array(32).fill(0x11),
  });
}

/** A random source that counts 00 01 02 … across calls (so examples are reproducible). */
export function countingRandom(): (n: number) => Uint8Array {
  let next = 0;
  return (n) => Uint8Array.from({ length: n }, () => next++ & 0xff);
}

export function docChip(options: SecureChipOptions = {}): SecureChip {
  return new SecureChip(docChipState(), { random: countingRandom(), ...options });
}

export interface Exchange {
  command: string;
  response: string;
  line: number;
}

/** Every `apdu` code block of the doc: `> command` line(s), then `< response` line(s). */
export function readTranscripts(path: string): Exchange[][] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const blocks: Exchange[][] = [];
  let current: Exchange[] | undefined;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (current === undefined) {
      if (line === '```apdu') current = [];
      return;
    }
    if (line === '```') {
      blocks.push(current);
      current = undefined;
      return;
    }
    if (line === '' || line.startsWith('#')) return;
    const hex = line.slice(1).replace(/\s/g, '').toLowerCase();
    const last = current[current.length - 1];
    // A command may run over several `>` lines, a response over several `<` lines.
    if (line.startsWith('>') && last !== undefined && last.response === '') last.command += hex;
    else if (line.startsWith('>')) current.push({ command: hex, response: '', line: i + 1 });
    else if (line.startsWith('<') && last !== undefined) last.response += hex;
    else throw new Error(`${path}:${i + 1}: not a transcript line: ${raw}`);
  });
  return blocks;
}
