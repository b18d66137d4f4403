/**
 * The bulk CLI's progress bar and closing summary, both on stderr so stdout stays pure JSON
 * lines. The bar is drawn only on a terminal; the summary is one plain line for logs.
 */
import type { Writable } from 'node:stream';

/** Redraws at most this often: a terminal cannot show more, and each redraw costs a write. */
const REDRAW_MS = 100;
const BAR_WIDTH = 24;

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 81,300 rather than 81,297: a rate is not that precise. Three significant digits from 1,000 up. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '0';
  if (perSecond < 1000) return integer.format(perSecond);
  const magnitude = 10 ** (Math.floor(Math.log10(perSecond)) - 2);
  return integer.format(Math.round(perSecond / magnitude) * magnitude);
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const s = Math.ceil(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface ProgressState {
  /** Records written so far. */
  items: number;
  /** Input bytes behind them. */
  bytesRead: number;
  /** Input size when it is a regular file: enables the bar and the ETA. */
  totalBytes: number | undefined;
  elapsedMs: number;
  /** 'tokens' or 'raw UIDs'. */
  unit: string;
}

/**
 * One line of progress: `[#########---------------]  37%  370,000 tokens  81,300/s  ETA 8s`,
 * or without a known input size `370,000 tokens  81,300/s`.
 */
export function renderProgress(state: ProgressState): string {
  const rate = state.elapsedMs > 0 ? (state.items * 1000) / state.elapsedMs : 0;
  const counts = `${integer.format(state.items)} ${state.unit}  ${formatRate(rate)}/s`;
  if (state.totalBytes === undefined || state.totalBytes <= 0) return counts;
  const fraction = Math.min(1, state.bytesRead / state.totalBytes);
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
  const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  // Bytes, not lines, drive the ETA: the number of lines is unknown until the end.
  const eta = fraction > 0 && fraction < 1 ? `  ETA ${formatDuration(((state.elapsedMs / 1000) * (1 - fraction)) / fraction)}` : '';
  return `${bar} ${percent}  ${counts}${eta}`;
}

/** Draws `renderProgress` in place on a terminal; does nothing when `out` is undefined. */
export class ProgressBar {
  readonly #out: Writable | undefined;
  readonly #totalBytes: number | undefined;
  readonly #unit: string;
  readonly #startedAt: number;
  #lastDrawAt = -Infinity;
  #drawn = false;

  constructor(out: Writable | undefined, totalBytes: number | undefined, unit: string, startedAt = performance.now()) {
    this.#out = out;
    this.#totalBytes = totalBytes;
    this.#unit = unit;
    this.#startedAt = startedAt;
  }

  update(items: number, bytesRead: number): void {
    if (!this.#out) return;
    const now = performance.now();
    if (now - this.#lastDrawAt < REDRAW_MS) return;
    this.#lastDrawAt = now;
    this.#drawn = true;
    const line = renderProgress({ items, bytesRead, totalBytes: this.#totalBytes, elapsedMs: now - this.#startedAt, unit: this.#unit });
    this.#out.write(`\r${line}\x1b[K`);
  }

  /** Erases the bar, leaving the line for the summary. */
  clear(): void {
    if (this.#out && this.#drawn) this.#out.write('\r\x1b[K');
    this.#drawn = false;
  }
}

/**
 * The closing line, e.g.
 * `uid2-engine: 1,000,000 tokens in 12.3 s (81,300/s): Success 950,123, ExpiredToken 49,877`.
 * Statuses are listed by count, largest first.
 */
export function renderSummary(items: number, unit: string, elapsedMs: number, statusCounts: ReadonlyMap<string, number>): string {
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? items / seconds : 0;
  const statuses = [...statusCounts.entries()]
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([status, n]) => `${status} ${integer.format(n)}`);
  const head = `uid2-engine: ${integer.format(items)} ${items === 1 ? unit.replace(/s$/, '') : unit} in ${seconds.toFixed(1)} s (${formatRate(rate)}/s)`;
  return statuses.length > 0 ? `${head}: ${statuses.join(', ')}` : head;
}
