import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { context, type TracerProvider } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { registerInstrumentations, type InstrumentationBase } from '@opentelemetry/instrumentation';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation, type UndiciRequest } from '@opentelemetry/instrumentation-undici';
import http from 'node:http';
import https from 'node:https';

/**
 * The field's OpenTelemetry instrumentations, so every DynamoDB and SQS call (`DynamoDB.PutItem`,
 * `SQS.SendMessage`) and every outgoing HTTP call is a span under the span that made it.
 *
 * They patch modules from a require hook, which never fires for code that esbuild bundled into the
 * image nor under jest, and not for modules loaded before tracing starts (every main imports its
 * clients first). So the modules the runtime has already loaded are patched here directly, through
 * each instrumentation's public module definitions; the hook still covers what loads later, and a
 * second patch replaces the first rather than stacking.
 */
export interface InstrumentationHandle {
  /** Unpatch and stop the instrumentations (a test installs a new provider after). */
  stop(): void;
}

/** Whether an undici (fetch) request already carries a trace context its caller injected. */
function carriesTraceparent(request: UndiciRequest): boolean {
  const headers = request.headers;
  if (typeof headers === 'string') return /(^|\r\n)traceparent:/i.test(headers);
  for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === 'traceparent') return true;
  return false;
}

interface Loaded {
  readonly instrumentation: InstrumentationBase;
  /** The name of the module definition, as the instrumentation declares it. */
  readonly module: string;
  readonly exports: object;
}

function patchLoaded({ instrumentation, module, exports }: Loaded, action: 'patch' | 'unpatch'): void {
  const definition = instrumentation.getModuleDefinitions().find((d) => d.name === module);
  if (definition === undefined) throw new Error(`${instrumentation.instrumentationName} has no module definition "${module}"; check its version against the one this file was written for`);
  definition[action]?.(exports, definition.moduleVersion);
}

/** The smithy `Client` classes the project's AWS clients extend (one, unless npm installed two). */
function smithyClients(): object[] {
  const bases = [DynamoDBClient, SQSClient].map((c) => (Object.getPrototypeOf(c.prototype) as { constructor: object }).constructor);
  return [...new Set(bases)];
}

export function startInstrumentations(tracerProvider: TracerProvider): InstrumentationHandle {
  // Incoming requests already get a SERVER span from tracedHandler, named by route. Outgoing calls
  // are spanned only inside an operation: a client's or a health probe's call is no trace.
  // A call made with tracing suppressed (the gateway's upstream call, the AWS SDK's HTTP under its
  // own span) is left alone entirely: otherwise the instrumentation still builds a non-recording
  // span, injects headers and binds every listener of the request to the context, on each call.
  const suppressed = () => isTracingSuppressed(context.active());
  const httpInstrumentation = new HttpInstrumentation({ disableIncomingRequestInstrumentation: true, requireParentforOutgoingSpans: true, ignoreOutgoingRequestHook: suppressed });
  // A caller that injected traceparent itself (the worker's chat span) is its own client span;
  // a second header would make the receiver's traceparent invalid.
  const undici = new UndiciInstrumentation({ ignoreRequestHook: (request) => suppressed() || carriesTraceparent(request), requireParentforSpans: true });
  // One span per AWS call, not another for the HTTP request under it.
  const aws = new AwsInstrumentation({ suppressInternalInstrumentation: true });
  const unregister = registerInstrumentations({ tracerProvider, instrumentations: [httpInstrumentation, undici, aws] });
  const loaded: Loaded[] = [
    { instrumentation: httpInstrumentation, module: 'http', exports: http },
    { instrumentation: httpInstrumentation, module: 'https', exports: https },
    ...smithyClients().map((Client) => ({ instrumentation: aws, module: '@smithy/smithy-client', exports: { Client } })),
  ];
  for (const l of loaded) patchLoaded(l, 'patch');
  return {
    stop: () => {
      for (const l of loaded) patchLoaded(l, 'unpatch');
      unregister();
    },
  };
}
