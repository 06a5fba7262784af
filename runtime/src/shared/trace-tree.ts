import type { StoredSpan } from './span-store';
import { GEN_AI, OPENCLAW } from './spans';

export interface SpanNode {
  readonly span: StoredSpan;
  readonly children: SpanNode[];
}

/** Parent-child forest of spans; a span whose parent is not stored (sampled out, other process) becomes a root. */
export function buildTree(spans: readonly StoredSpan[]): SpanNode[] {
  const nodes = new Map<string, SpanNode>();
  for (const span of spans) nodes.set(span.spanId, { span, children: [] });
  const roots: SpanNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.span.parentSpanId === undefined ? undefined : nodes.get(node.span.parentSpanId);
    (parent === undefined ? roots : parent.children).push(node);
  }
  const order = (list: SpanNode[]) => {
    list.sort((a, b) => a.span.startMs - b.span.startMs);
    for (const n of list) order(n.children);
  };
  order(roots);
  return roots;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** The few attributes that answer "what happened here" for each kind of span. */
function details(span: StoredSpan): string {
  const a = span.attributes;
  const parts: string[] = [];
  const op = a[GEN_AI.operationName];
  if (op === 'chat') {
    parts.push(`tokens in=${String(a[GEN_AI.inputTokens] ?? '?')} out=${String(a[GEN_AI.outputTokens] ?? '?')}`);
    const reasons = a[GEN_AI.finishReasons];
    if (Array.isArray(reasons)) parts.push(`finish=${reasons.join(',')}`);
    const util = num(a[OPENCLAW.contextUtilisation]);
    if (util !== undefined) parts.push(`context=${util.toFixed(2)}%`);
  } else if (op === 'execute_tool') {
    parts.push(`outcome=${String(a[OPENCLAW.toolOutcome] ?? '?')}`);
    const bytes = num(a[OPENCLAW.toolOutputBytes]);
    if (bytes !== undefined) parts.push(`output=${bytes}B`);
    const hash = a[OPENCLAW.toolInputSha256];
    if (typeof hash === 'string') parts.push(`input#${hash.slice(0, 8)}`);
  } else if (op === 'invoke_agent') {
    if (a[OPENCLAW.taskStatus] !== undefined) parts.push(`status=${String(a[OPENCLAW.taskStatus])}`);
    if (a[OPENCLAW.workerId] !== undefined) parts.push(`worker=${String(a[OPENCLAW.workerId])}`);
    if (a[OPENCLAW.steps] !== undefined) parts.push(`steps=${String(a[OPENCLAW.steps])}`);
    if (a[GEN_AI.inputTokens] !== undefined) parts.push(`tokens in=${String(a[GEN_AI.inputTokens])} out=${String(a[GEN_AI.outputTokens] ?? '?')}`);
    const cost = num(a[OPENCLAW.costUsd]);
    if (cost !== undefined) parts.push(`cost=$${cost.toFixed(4)}`);
    if (a[OPENCLAW.promptVersion] !== undefined) parts.push(`prompt=${String(a[OPENCLAW.promptVersion])}`);
  }
  const status = a['http.response.status_code'];
  if (status !== undefined) parts.push(`http=${String(status)}`);
  if (a[OPENCLAW.lane] !== undefined) parts.push(`lane=${String(a[OPENCLAW.lane])}`);
  if (span.status === 'error') parts.push(`ERROR ${span.statusMessage ?? ''}`.trim());
  return parts.join('  ');
}

/** Spans this project made; the Anthropic SDK adds its own call span under each `chat` span. */
const ours = (span: StoredSpan): boolean => span.scope.startsWith('openclaw.');

/**
 * Short name from the instrumentation scope: `openclaw.worker` -> `worker`, the Anthropic SDK's ->
 * `sdk`, `@opentelemetry/instrumentation-aws-sdk` -> `aws-sdk` (and `undici`, `http`).
 */
const service = (span: StoredSpan): string => {
  if (ours(span)) return span.scope.slice('openclaw.'.length);
  if (span.scope.startsWith('com.anthropic.')) return 'sdk';
  return span.scope.replace(/^@opentelemetry\/instrumentation-/, '');
};

/** The span tree as terminal lines: offset from the first span, duration, service, and what happened. */
export function renderTree(spans: readonly StoredSpan[], taskId: string): string {
  if (spans.length === 0) return `No spans stored for task ${taskId}.`;
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const end = Math.max(...spans.map((s) => s.startMs + s.durationMs));
  const chats = spans.filter((s) => ours(s) && s.attributes[GEN_AI.operationName] === 'chat');
  const tools = spans.filter((s) => ours(s) && s.attributes[GEN_AI.operationName] === 'execute_tool');
  const sum = (list: StoredSpan[], key: string) => list.reduce((t, s) => t + (num(s.attributes[key]) ?? 0), 0);
  const traces = new Set(spans.map((s) => s.traceId));
  const lines = [
    `Task ${taskId}: ${spans.length} spans in ${traces.size} trace(s) [${[...traces].join(', ')}], ${formatMs(end - t0)}`,
    `  ${chats.length} model call(s), tokens in=${sum(chats, GEN_AI.inputTokens)} out=${sum(chats, GEN_AI.outputTokens)}; ${tools.length} tool call(s): ${tools.map((t) => String(t.attributes[GEN_AI.toolName] ?? '?')).join(', ') || 'none'}`,
    '',
  ];
  const walk = (node: SpanNode, prefix: string, last: boolean, depth: number) => {
    const branch = depth === 0 ? '' : last ? '└─ ' : '├─ ';
    const s = node.span;
    const label = `${prefix}${branch}${s.name}`;
    lines.push(`${label.padEnd(48)} ${service(s).padEnd(8)} +${formatMs(s.startMs - t0).padStart(8)} ${formatMs(s.durationMs).padStart(9)}  ${details(s)}`.trimEnd());
    const childPrefix = depth === 0 ? '' : prefix + (last ? '   ' : '│  ');
    node.children.forEach((c, i) => walk(c, childPrefix, i === node.children.length - 1, depth + 1));
  };
  for (const root of buildTree(spans)) walk(root, '', true, 0);
  return lines.join('\n');
}
