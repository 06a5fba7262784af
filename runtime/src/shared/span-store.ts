import { ExportResultCode, hrTimeToMilliseconds, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { appendFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OPENCLAW } from './spans';

/** A finished span as the local store keeps it: one JSON line, nothing an SDK is needed to read. */
export interface StoredSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: string;
  /** Instrumentation scope, e.g. `openclaw.worker`. */
  readonly scope: string;
  /** Epoch milliseconds. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly status: 'ok' | 'error' | 'unset';
  readonly statusMessage?: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

const KIND_NAMES: Record<number, string> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

export function toStoredSpan(span: ReadableSpan): StoredSpan {
  const parent = span.parentSpanContext?.spanId;
  const status = span.status.code === SpanStatusCode.ERROR ? 'error' : span.status.code === SpanStatusCode.OK ? 'ok' : 'unset';
  return {
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    ...(parent !== undefined ? { parentSpanId: parent } : {}),
    name: span.name,
    kind: KIND_NAMES[span.kind] ?? 'internal',
    scope: span.instrumentationScope.name,
    startMs: hrTimeToMilliseconds(span.startTime),
    durationMs: hrTimeToMilliseconds(span.duration),
    status,
    ...(span.status.message !== undefined && span.status.message !== '' ? { statusMessage: span.status.message } : {}),
    attributes: { ...span.attributes },
  };
}

/** Where `npm start` keeps spans and `npm run trace` reads them (relative to the repository). */
export const DEFAULT_TRACE_DIR = '.local/traces';

/** One file per day keeps any single file small enough to scan for a task. */
const fileFor = (dir: string, ms: number): string => join(dir, `spans-${new Date(ms).toISOString().slice(0, 10)}.jsonl`);

/**
 * The local span store behind `npm run trace`: an exporter that appends each span to a JSON-lines
 * file under `.local/traces`. For `npm start` only; in AWS spans go to the collector by OTLP.
 */
export class FileSpanExporter implements SpanExporter {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      const byFile = new Map<string, string[]>();
      for (const span of spans) {
        const stored = toStoredSpan(span);
        const file = fileFor(this.dir, stored.startMs);
        byFile.set(file, [...(byFile.get(file) ?? []), JSON.stringify(stored)]);
      }
      for (const [file, lines] of byFile) appendFileSync(file, `${lines.join('\n')}\n`);
      done({ code: ExportResultCode.SUCCESS });
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  async shutdown(): Promise<void> {}

  async forceFlush(): Promise<void> {}
}

/** Every stored span in `dir`; a missing directory holds none. Unparseable lines (a torn write) are skipped. */
export function readStoredSpans(dir: string): StoredSpan[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  } catch {
    return [];
  }
  const spans: StoredSpan[] = [];
  for (const file of files) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        spans.push(JSON.parse(line) as StoredSpan);
      } catch {
        continue;
      }
    }
  }
  return spans;
}

/**
 * The spans of a task: every trace in which some span names the task (a resumed task can span
 * several workers, all continuing the intake's trace), in start order.
 */
export function spansForTask(spans: readonly StoredSpan[], taskId: string): StoredSpan[] {
  const traces = new Set(spans.filter((s) => s.attributes[OPENCLAW.taskId] === taskId).map((s) => s.traceId));
  return spans.filter((s) => traces.has(s.traceId)).sort((a, b) => a.startMs - b.startMs);
}
