import type { TimelinePoint } from './fleet-sim';

export interface PlotPanel {
  readonly title: string;
  readonly timeline: readonly TimelinePoint[];
  /** Shaded interval (s), e.g. the spike. */
  readonly highlight?: readonly [number, number];
}

const W = 900;
const PANEL_H = 220;
const M = { left: 70, right: 70, top: 34, bottom: 36 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round axis maximum at or above `v`, so tick labels are readable. */
export function niceMax(v: number): number {
  if (v <= 0) return 1;
  const pow = 10 ** Math.floor(Math.log10(v));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * pow >= v) as number;
  return step * pow;
}

function panel(p: PlotPanel, top: number): string {
  const pts = p.timeline;
  const tMax = Math.max(1, ...pts.map((x) => x.t));
  const qMax = niceMax(Math.max(...pts.map((x) => x.visible)));
  const wMax = niceMax(Math.max(...pts.map((x) => Math.max(x.running, x.desired))));
  const plotW = W - M.left - M.right;
  const plotH = PANEL_H - M.top - M.bottom;
  const x = (t: number) => M.left + (t / tMax) * plotW;
  const yq = (v: number) => top + M.top + plotH - (v / qMax) * plotH;
  const yw = (v: number) => top + M.top + plotH - (v / wMax) * plotH;
  const line = (y: (v: number) => number, pick: (pt: TimelinePoint) => number) =>
    pts.map((pt, i) => `${i === 0 ? 'M' : 'L'}${x(pt.t).toFixed(1)},${y(pick(pt)).toFixed(1)}`).join('');
  const out: string[] = [];
  out.push(`<text x="${M.left}" y="${top + 20}" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
  if (p.highlight !== undefined) {
    const [a, b] = p.highlight;
    out.push(`<rect x="${x(a).toFixed(1)}" y="${top + M.top}" width="${(x(b) - x(a)).toFixed(1)}" height="${plotH}" fill="#fde68a" opacity="0.5"/>`);
  }
  out.push(`<rect x="${M.left}" y="${top + M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 4; i++) {
    const fy = top + M.top + plotH - (i / 4) * plotH;
    out.push(`<text x="${M.left - 6}" y="${fy + 4}" font-size="11" text-anchor="end" fill="#1d4ed8">${Math.round((qMax * i) / 4)}</text>`);
    out.push(`<text x="${W - M.right + 6}" y="${fy + 4}" font-size="11" fill="#b91c1c">${Math.round((wMax * i) / 4)}</text>`);
  }
  const hours = Math.floor(tMax / 3600);
  for (let h = 0; h <= hours; h++) {
    out.push(`<text x="${x(h * 3600).toFixed(1)}" y="${top + PANEL_H - 14}" font-size="11" text-anchor="middle">${h} h</text>`);
  }
  out.push(`<path d="${line(yq, (pt) => pt.visible)}" fill="none" stroke="#1d4ed8" stroke-width="1.5"/>`);
  out.push(`<path d="${line(yw, (pt) => pt.desired)}" fill="none" stroke="#f59e0b" stroke-width="1" stroke-dasharray="4 3"/>`);
  out.push(`<path d="${line(yw, (pt) => pt.running)}" fill="none" stroke="#b91c1c" stroke-width="1.5"/>`);
  return out.join('\n');
}

/** Queue depth (left axis) and running/desired workers (right axis) over time, one panel per run. */
export function timelineSvg(panels: readonly PlotPanel[]): string {
  const height = panels.length * PANEL_H + 30;
  const legend =
    `<text x="${M.left}" y="${height - 10}" font-size="12"><tspan fill="#1d4ed8">— visible messages (left)</tspan>` +
    `  <tspan fill="#b91c1c">— running workers (right)</tspan>  <tspan fill="#f59e0b">- - desired workers (right)</tspan>  <tspan fill="#92400e">shaded: spike</tspan></text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels.map((p, i) => panel(p, i * PANEL_H)),
    legend,
    '</svg>',
    '',
  ].join('\n');
}
