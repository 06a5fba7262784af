/** One line of the bench table: a measured figure next to the baseline it is compared with. */
export interface BenchRow {
  readonly bench: string;
  readonly measured: string;
  readonly baseline: string;
  /** measured ÷ baseline (or the stated ratio), already formatted. */
  readonly ratio: string;
  readonly note?: string;
}

/** A Markdown table that reads well in a terminal too. */
export function renderTable(rows: readonly BenchRow[]): string {
  const header = ['benchmark', 'measured', 'compared with', 'ratio', 'note'];
  const cells = rows.map((r) => [r.bench, r.measured, r.baseline, r.ratio, r.note ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: readonly string[]) => `| ${c.map((v, i) => v.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : String(n));
