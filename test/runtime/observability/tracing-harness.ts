import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTracing, type TracingHandle } from '../../../runtime/src/shared/tracing';

/** The real SDK, registered globally for one test file, exporting into memory. */
export interface TestTracing {
  readonly exporter: InMemorySpanExporter;
  readonly handle: TracingHandle;
  spans(): ReadableSpan[];
  byName(name: string): ReadableSpan[];
  one(name: string): ReadableSpan;
}

export function startTestTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const handle = startTracing({ serviceName: 'openclaw-test', stage: 'test', exporters: [exporter] });
  const spans = () => exporter.getFinishedSpans();
  const byName = (name: string) => spans().filter((s) => s.name === name);
  return {
    exporter,
    handle,
    spans,
    byName,
    one: (name) => {
      const found = byName(name);
      if (found.length !== 1) throw new Error(`expected one span "${name}", found ${found.length} among [${spans().map((s) => s.name).join(', ')}]`);
      return found[0] as ReadableSpan;
    },
  };
}
