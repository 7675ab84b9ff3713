// A process that races for an image lock: it waits for a common start time, takes the lock (or
// reports busy), and inside it logs its entry and exit, so the parent can check that no two
// holders ever overlap. Usage: tsx lock-contender.ts IMAGE LOG START_MS HOLD_MS
import { appendFileSync } from 'node:fs';
import { lockImage } from '../../src/node/image-lock.js';

const [image, log, start, hold] = process.argv.slice(2) as [string, string, string, string];
while (Date.now() < Number(start)) {
  // Spin rather than sleep: every contender should leave the line within the same millisecond.
}
try {
  const release = await lockImage(image);
  appendFileSync(log, `enter ${process.pid}\n`);
  await new Promise((r) => setTimeout(r, Number(hold)));
  appendFileSync(log, `exit ${process.pid}\n`);
  await release();
  process.stdout.write('won');
} catch (e) {
  process.stdout.write((e as { code?: string }).code ?? String(e));
}
