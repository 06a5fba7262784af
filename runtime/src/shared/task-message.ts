import type { TaskMessage } from './task-model';

/** The W3C trace context that travels with a task message (OpenTelemetry's messaging convention). */
export interface TraceCarrier {
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** The shape SQS uses for a string message attribute, without depending on the SQS client here. */
export interface StringAttribute {
  readonly DataType: 'String';
  readonly StringValue: string;
}

const TRACE_KEYS = ['traceparent', 'tracestate'] as const;

/**
 * Trace context as SQS message attributes, not in the body: the body stays the task's ID alone, and
 * any SQS-aware tool (X-Ray, OpenTelemetry instrumentations) finds the context where it looks.
 */
export function traceMessageAttributes(carrier: TraceCarrier): Record<string, StringAttribute> {
  const out: Record<string, StringAttribute> = {};
  for (const key of TRACE_KEYS) {
    const value = carrier[key];
    if (value !== undefined && value.length > 0) out[key] = { DataType: 'String', StringValue: value };
  }
  return out;
}

/**
 * The trace context of a received message: its attributes, or the body's `traceparent` for a
 * message an older intake enqueued (kept so a rolling deploy does not break the traces in flight).
 */
export function traceCarrierOf(attributes: Readonly<Record<string, { readonly DataType?: string | undefined; readonly StringValue?: string | undefined }>> | undefined, body: TaskMessage): TraceCarrier {
  const read = (key: (typeof TRACE_KEYS)[number]): string | undefined => {
    const attr = attributes?.[key];
    return attr?.DataType === 'String' && attr.StringValue !== undefined && attr.StringValue.length > 0 ? attr.StringValue : undefined;
  };
  const traceparent = read('traceparent') ?? body.traceparent;
  const tracestate = read('tracestate');
  return { ...(traceparent !== undefined ? { traceparent } : {}), ...(tracestate !== undefined ? { tracestate } : {}) };
}

/**
 * The task message in a queue body, or undefined when the body is not JSON naming a task. Every
 * reader of the task and dead-letter queues (the worker, the dead-letter sweeper, the redrive CLI)
 * parses with this, so they agree on what counts as malformed.
 */
export function parseTaskMessage(body: string | undefined): TaskMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? '');
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { taskId, traceparent } = parsed as { taskId?: unknown; traceparent?: unknown };
  if (typeof taskId !== 'string' || taskId.length === 0) return undefined;
  return { taskId, ...(typeof traceparent === 'string' ? { traceparent } : {}) };
}
