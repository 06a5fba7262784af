import { trace } from '@opentelemetry/api';
import { GroupCommit, type ItemOutcome } from '../../../runtime/src/shared/group-commit';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { MessageBatches } from '../../../runtime/src/intake/message-batches';
import { OPENCLAW, taskTraceContext } from '../../../runtime/src/shared/spans';
import { traceMessageAttributes } from '../../../runtime/src/shared/task-message';
import { createTestAws } from '../../support/aws';
import { startTestTracing, type TestTracing } from './tracing-harness';

/** A group-committed write in the traces: a child of the first request it carries, linked to all of them. */
describe('group commit in traces', () => {
  let tracing: TestTracing;
  beforeAll(() => {
    tracing = startTestTracing();
  });
  afterAll(async () => {
    await tracing.handle.shutdown();
  });

  it('GIVEN three requests, the last two written together WHEN traced THEN the lone write runs in its request and the batch is a span under its first request, linked to every request it carried, with the batch size', async () => {
    const tracer = trace.getTracer('test');
    const releases: (() => void)[] = [];
    const batches = new GroupCommit<string, string>({
      maxItems: 10,
      maxInFlight: 1,
      span: { tracer, name: 'group_commit test_rows' },
      write: (items) =>
        new Promise<readonly ItemOutcome<string>[]>((resolve) => {
          // What the write does runs inside the batch span: an SDK call's span would be its child.
          tracer.startSpan('inner call').end();
          releases.push(() => resolve(items.map((i) => ({ ok: true, value: i }))));
        }),
    });
    const request = (name: string) => tracer.startActiveSpan(`request ${name}`, (span) => batches.submit(name).finally(() => span.end()));
    const answers = [request('a'), request('b'), request('c')];
    releases[0]?.();
    await answers[0];
    await new Promise((r) => setImmediate(r));
    releases[1]?.();
    await expect(Promise.all(answers)).resolves.toEqual(['a', 'b', 'c']);

    const writes = tracing.byName('group_commit test_rows');
    expect(writes.map((w) => w.attributes[OPENCLAW.batchSize])).toEqual([2]);
    const requestSpan = (name: string) => tracing.one(`request ${name}`).spanContext().spanId;
    const [together] = writes;
    expect(together?.parentSpanContext?.spanId).toBe(requestSpan('b'));
    expect(together?.links.map((l) => l.context.spanId)).toEqual([requestSpan('b'), requestSpan('c')]);
    // A lone write runs in its own request (as without batching); a batch's work runs under the batch span.
    expect(tracing.byName('inner call').map((s) => s.parentSpanContext?.spanId)).toEqual([requestSpan('a'), together?.spanContext().spanId]);
  });
});

describe('batched task messages keep each task\'s own trace', () => {
  let tracing: TestTracing;
  beforeAll(() => {
    tracing = startTestTracing();
  });
  afterAll(async () => {
    await tracing.handle.shutdown();
  });

  it('GIVEN sends from five requests batched into one SendMessageBatch WHEN the messages are read THEN each carries the trace of the request that sent it', async () => {
    // The aws-sdk instrumentation is on (as in a deployed intake): it injects its send span's
    // context into every entry of a batch it sees, which would put all five in one trace.
    const aws = await createTestAws();
    try {
      const slowSqs = new Proxy(aws.sqs, {
        get(target, prop, receiver) {
          if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
          return async (...args: unknown[]) => {
            await new Promise((r) => setTimeout(r, 30));
            return (target.send as unknown as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        },
      });
      const batches = new MessageBatches({ sqs: slowSqs, maxInFlight: 1 });
      const tracer = trace.getTracer('test');
      const traceOf = new Map<string, string>();
      await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          tracer.startActiveSpan(`request ${i}`, async (span) => {
            const taskId = `task-${i}`;
            traceOf.set(taskId, span.spanContext().traceId);
            await batches.send({ queueUrl: aws.resources.queues.normal, body: JSON.stringify({ taskId }), attributes: traceMessageAttributes(taskTraceContext(taskId)) });
            span.end();
          }),
        ),
      );
      expect(tracing.byName('group_commit messages').map((s) => s.attributes[OPENCLAW.batchSize])).toEqual([5]);
      const seen = new Map<string, string>();
      for (let empty = 0; empty < 2; ) {
        const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: aws.resources.queues.normal, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 0 }));
        empty = (out.Messages ?? []).length === 0 ? empty + 1 : 0;
        for (const m of out.Messages ?? []) {
          const taskId = (JSON.parse(m.Body ?? '{}') as { taskId: string }).taskId;
          seen.set(taskId, (m.MessageAttributes?.['traceparent']?.StringValue ?? '').split('-')[1] ?? '');
        }
      }
      expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(traceOf));
    } finally {
      aws.destroy();
    }
  });
});
