/** Latency bookkeeping in HDR histograms (microseconds, 3 significant digits). */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
}

/** Records a latency in microseconds (rounded up; a sub-microsecond latency counts as 1 µs). */
export function recordUs(histogram: Histogram, us: number): void {
  histogram.recordValue(Math.max(1, Math.ceil(us)));
}

export interface LatencySummary {
  count: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export function summarize(histogram: Histogram): LatencySummary {
  return {
    count: histogram.totalCount,
    p50Us: histogram.getValueAtPercentile(50),
    p90Us: histogram.getValueAtPercentile(90),
    p99Us: histogram.getValueAtPercentile(99),
    p999Us: histogram.getValueAtPercentile(99.9),
    maxUs: histogram.maxValue,
  };
}

/** The percentile curve for charts: [percentile, µs] at HDR-style ticks up to 99.99. */
export function percentileCurve(histogram: Histogram): [number, number][] {
  const points: [number, number][] = [];
  for (const p of [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99]) points.push([p, histogram.getValueAtPercentile(p)]);
  return points;
}

/** The .hgrm percentile distribution text (values in µs). */
export function hgrm(histogram: Histogram): string {
  return histogram.outputPercentileDistribution(5, 1);
}
