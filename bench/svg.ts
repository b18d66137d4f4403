/** Minimal self-contained SVG line charts (no scripts, no external assets). */

export interface Series {
  name: string;
  points: [number, number][];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Tick positions (in data units) and their labels. */
  xTicks: [number, string][];
  yLog?: boolean;
  /** Optional horizontal reference line (data units) with its label. */
  reference?: [number, string];
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const m = { left: 70, right: 170, top: 36, bottom: 48 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1])).concat(o.reference ? [o.reference[0]] : []);
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0])).concat(o.xTicks.map((t) => t[0]));
  const ty = (v: number): number => (o.yLog ? Math.log10(Math.max(v, 1)) : v);
  let yMin = Math.min(...ys.map(ty));
  let yMax = Math.max(...ys.map(ty));
  if (o.yLog) {
    yMin = Math.floor(yMin);
    yMax = Math.ceil(yMax);
  }
  if (yMax === yMin) yMax = yMin + 1;
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs) === xMin ? xMin + 1 : Math.max(...xs);
  const px = (x: number): number => m.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number): number => m.top + plotH - ((ty(y) - yMin) / (yMax - yMin)) * plotH;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  parts.push(`<text x="${width / 2 - m.right / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>`);
  // Y grid and ticks.
  const yTicks: number[] = [];
  if (o.yLog) for (let e = yMin; e <= yMax; e++) yTicks.push(10 ** e);
  else for (let i = 0; i <= 5; i++) yTicks.push(yMin + ((yMax - yMin) * i) / 5);
  for (const t of yTicks) {
    const y = py(t).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    const label = t >= 1000 ? `${(t / 1000).toLocaleString('en-US')} ms` : `${Math.round(t)} µs`;
    parts.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${label}</text>`);
  }
  for (const [x, label] of o.xTicks) {
    const xx = px(x).toFixed(1);
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${m.top}" y2="${m.top + plotH}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${xx}" y="${m.top + plotH + 16}" text-anchor="middle">${escapeXml(label)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 8}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  if (o.reference) {
    const y = py(o.reference[0]).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y}" y2="${y}" stroke="#555" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${m.left + plotW - 4}" y="${Number(y) - 4}" text-anchor="end" fill="#555">${escapeXml(o.reference[1])}</text>`);
  }
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of s.points) parts.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="2.5" fill="${color}"/>`);
    const ly = m.top + 10 + i * 18;
    parts.push(`<line x1="${m.left + plotW + 12}" x2="${m.left + plotW + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    parts.push(`<text x="${m.left + plotW + 38}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Percentile to the "nines" axis: 0 -> 0, 90 -> 1, 99 -> 2, 99.9 -> 3, 99.99 -> 4. */
export function ninesAxis(percentile: number): number {
  return percentile >= 100 ? 5 : Math.max(0, -Math.log10(1 - percentile / 100));
}
