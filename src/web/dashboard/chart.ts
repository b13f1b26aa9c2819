/**
 * The dashboard's chart of matches over time, drawn here as inline SVG (no
 * chart library, nothing fetched): matches found per day stacked by status,
 * and one line per group (src/web/dashboard/aggregate.ts counts them).
 */
import type { Aggregate, Series } from './aggregate.js';

const SVG = 'http://www.w3.org/2000/svg';
const PALETTE = ['#1f6fb2', '#d9822b', '#2e8b57', '#8c8c8c', '#9b59b6', '#c0392b', '#16a085'];
export const STATUS_COLOURS: Record<string, string> = { new: '#c0392b', reported: '#d9822b', removed: '#2e8b57', dismissed: '#8c8c8c' };

function svgEl(tag: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const W = 640;
const H = 220;
const PAD = { left: 36, right: 8, top: 8, bottom: 40 };

/** Axes with a few day labels and count ticks; returns the plot's scale. */
function axes(svg: SVGElement, days: string[], max: number): { x: (i: number) => number; y: (v: number) => number; band: number } {
  const band = (W - PAD.left - PAD.right) / Math.max(1, days.length);
  const y = (v: number) => H - PAD.bottom - ((H - PAD.top - PAD.bottom) * v) / Math.max(1, max);
  const x = (i: number) => PAD.left + i * band;
  svg.append(svgEl('line', { x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0), stroke: '#444' }));
  for (const v of [0, Math.ceil(max / 2), max]) svg.append(svgEl('text', { x: PAD.left - 4, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 10 }, String(v)));
  const step = Math.max(1, Math.ceil(days.length / 6));
  days.forEach((d, i) => {
    if (i % step === 0) svg.append(svgEl('text', { x: x(i) + band / 2, y: H - PAD.bottom + 14, 'text-anchor': 'middle', 'font-size': 10 }, d.slice(5)));
  });
  return { x, y, band };
}

function legend(svg: SVGElement, series: Series[], colour: (s: Series, i: number) => string): void {
  series.forEach((s, i) => {
    const lx = PAD.left + (i % 4) * 150;
    const ly = H - 12 + Math.floor(i / 4) * 12;
    svg.append(svgEl('rect', { x: lx, y: ly - 8, width: 10, height: 10, fill: colour(s, i) }));
    svg.append(svgEl('text', { x: lx + 14, y: ly, 'font-size': 10 }, s.name.length > 22 ? `${s.name.slice(0, 21)}…` : s.name));
  });
}

function frame(title: string, rows: number): SVGElement {
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H + 12 * (rows - 1)}`, role: 'img', 'aria-label': title });
  svg.append(svgEl('title', {}, title));
  return svg;
}

/** Stacked bars: matches found each day, by status. */
export function statusChart(data: Aggregate): SVGElement {
  const svg = frame('Matches found per day, by status', Math.ceil(data.byStatus.length / 4));
  const totals = data.days.map((_, i) => data.byStatus.reduce((n, s) => n + s.counts[i], 0));
  const { x, y, band } = axes(svg, data.days, Math.max(0, ...totals));
  data.days.forEach((day, i) => {
    let base = 0;
    for (const s of data.byStatus) {
      const v = s.counts[i];
      if (v === 0) continue;
      const bar = svgEl('rect', { x: x(i) + band * 0.1, y: y(base + v), width: band * 0.8, height: y(base) - y(base + v), fill: STATUS_COLOURS[s.name], 'data-status': s.name, 'data-day': day, 'data-count': v });
      bar.append(svgEl('title', {}, `${day}: ${v} ${s.name}`));
      svg.append(bar);
      base += v;
    }
  });
  legend(svg, data.byStatus, (s) => STATUS_COLOURS[s.name]);
  return svg;
}

/** One line per group: matches found each day. */
export function groupChart(data: Aggregate): SVGElement {
  const svg = frame('Matches found per day, by group', Math.ceil(data.byGroup.length / 4));
  const { x, y, band } = axes(svg, data.days, Math.max(0, ...data.byGroup.flatMap((s) => s.counts)));
  data.byGroup.forEach((s, gi) => {
    const points = s.counts.map((v, i) => `${(x(i) + band / 2).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const line = svgEl('polyline', { points, fill: 'none', stroke: PALETTE[gi % PALETTE.length], 'stroke-width': 2, 'data-group': s.name });
    line.append(svgEl('title', {}, `${s.name}: ${s.counts.reduce((a, b) => a + b, 0)} matches`));
    svg.append(line);
  });
  legend(svg, data.byGroup, (_s, i) => PALETTE[i % PALETTE.length]);
  return svg;
}
