/**
 * A one-line progress bar for long transfers, drawn on stderr: bytes done (of the total when
 * known), rate and time left. It redraws at most ten times a second and only counts bytes, so it
 * costs nothing measurable on a stream of 1 MiB pieces.
 *
 * @module
 */
import type { Writable } from 'node:stream';

const WIDTH = 24;
const REDRAW_MS = 100;
// Off a terminal (--progress into a log) each state is its own line, so fewer of them.
const LOG_MS = 1000;

/**
 * Bytes in binary units with one decimal, e.g. `12.5 MiB`.
 *
 * @example
 * ```ts
 * formatBytes(1536); // '1.5 KiB'
 * ```
 */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

/**
 * A progress bar on one line of a terminal; anything else (a log file) gets a plain line per
 * second instead of redraws.
 *
 * @example
 * ```ts
 * const bar = new ProgressBar(process.stderr, 'put movie.mp4', 1 << 30);
 * bar.add(1 << 20);
 * bar.finish();
 * ```
 */
export class ProgressBar {
  private done = 0;
  private lastDraw: number;
  private readonly started: number;
  private finished = false;
  private readonly tty: boolean;

  /**
   * @param out - where to draw (stderr)
   * @param label - what is moving, e.g. `put user/movie.mp4`
   * @param total - bytes expected, when known
   * @param now - clock in milliseconds (tests pass a fake one)
   */
  constructor(
    private readonly out: Writable,
    private readonly label: string,
    private readonly total?: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tty = (out as { isTTY?: boolean }).isTTY === true;
    this.started = this.now();
    this.lastDraw = this.started;
  }

  private draw(t: number, final: boolean): void {
    if (this.tty) this.out.write(`\r${this.line(t)}\x1b[K${final ? '\n' : ''}`);
    else this.out.write(`${this.line(t)}\n`);
  }

  /** Count `n` more bytes; redraws when the last redraw is old enough. */
  add(n: number): void {
    this.done += n;
    const t = this.now();
    if (t - this.lastDraw >= (this.tty ? REDRAW_MS : LOG_MS)) {
      this.lastDraw = t;
      this.draw(t, false);
    }
  }

  /** Draw the final state and end the line. Safe to call twice. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.draw(this.now(), true);
  }

  /** The text of the bar at time `t` (milliseconds on the bar's clock). */
  line(t: number): string {
    const seconds = Math.max((t - this.started) / 1000, 1e-3);
    const rate = this.done / seconds;
    const speed = `${formatBytes(Math.round(rate))}/s`;
    if (this.total === undefined || this.total === 0) {
      return `${this.label} ${formatBytes(this.done)} ${speed}`;
    }
    const frac = Math.min(1, this.done / this.total);
    const fill = Math.round(frac * WIDTH);
    const bar = `${'#'.repeat(fill)}${'.'.repeat(WIDTH - fill)}`;
    const eta = rate > 0 ? (this.total - this.done) / rate : Number.POSITIVE_INFINITY;
    const pct = `${Math.floor(frac * 100)}`.padStart(3);
    return `${this.label} [${bar}] ${pct}% ${formatBytes(this.done)}/${formatBytes(this.total)} ${speed} ETA ${formatDuration(eta)}`;
  }

  /**
   * A pass-through stream that counts what flows through it into this bar, and finishes the bar
   * when the stream ends.
   */
  counter(): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => {
        this.add(chunk.length);
        controller.enqueue(chunk);
      },
      flush: () => {
        this.finish();
      },
    });
  }
}
