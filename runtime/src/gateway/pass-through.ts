import type { ServerResponse } from 'node:http';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { AdmittedCall } from './admission';
import { classifyStreamError, classifyUpstream, retryHeaders } from './error-map';
import { upstreamUnavailable } from './gateway-errors';
import { UpstreamIdleError, chunksWithIdleTimeout, readWithIdleTimeout } from './idle-timeout';
import { copyHeaders } from './upstream-client';
import type { UpstreamResponse } from './upstream-transport';
import { SseUsageTap, type Usage } from './usage';

/** The gateway's own response headers: where the call went and how long it waited. */
function ownHeaders(call: AdmittedCall): Record<string, string> {
  return {
    'x-openclaw-model': call.model,
    'x-openclaw-tier': call.tier,
    'x-openclaw-lane': call.lane,
    'x-openclaw-queued-ms': String(call.queuedMs),
    ...(call.fallbackFrom !== undefined ? { 'x-openclaw-fallback-from': call.fallbackFrom } : {}),
  };
}

/** How one upstream call is bounded and reported. */
export interface RelayContext {
  /** Aborts the upstream call: the caller went away, or the upstream fell silent. */
  readonly abort: AbortController;
  /** Longest silence allowed between body bytes once the headers arrived (ms). */
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
}

export function isEventStream(upstream: UpstreamResponse): boolean {
  return upstream.status >= 200 && upstream.status < 300 && (upstream.headers.get('content-type') ?? '').includes('text/event-stream');
}

/** Relay a whole (non-streamed) answer, then charge its usage and tell the breaker its outcome. */
export async function relayBody(res: ServerResponse, upstream: UpstreamResponse, call: AdmittedCall, ctx: RelayContext): Promise<void> {
  let text: Buffer;
  try {
    text = await readWithIdleTimeout(upstream.body, ctx.idleTimeoutMs, ctx.abort);
  } catch (err) {
    // Unknown output: keep the whole reservation rather than risk overshooting the provider.
    call.settle(undefined, call.cost[2]);
    const reason: unknown = ctx.abort.signal.reason;
    if (reason instanceof UpstreamIdleError) {
      call.fail('idle_timeout');
      ctx.logger.warn('gateway.upstream_idle', { model: call.model, idleMs: reason.idleMs });
      throw upstreamUnavailable(true, `${reason.message} after its headers; the gateway gave up on the body`, call.model);
    }
    if (res.destroyed) return;
    call.fail('broken_stream');
    throw upstreamUnavailable(false, `Upstream body broke off: ${errorMessage(err)}`, call.model);
  }
  const outcome = classifyUpstream(upstream.status, upstream.status === 429 ? text.toString('utf8') : undefined);
  // A spend-limit 429 says nothing about the per-minute buckets.
  if (outcome !== 'spend_limit') call.calibrate(upstream.headers);
  const headers = copyHeaders(upstream, ownHeaders(call));
  switch (outcome) {
    case 'success': {
      let usage: Usage | undefined;
      try {
        usage = (JSON.parse(text.toString('utf8')) as { usage?: Usage }).usage;
      } catch {
        usage = undefined;
      }
      // A 200 without usage: assume the worst, that max_tokens were generated.
      call.settle(usage, call.cost[2]);
      call.succeed();
      break;
    }
    case 'spend_limit':
      call.settle(undefined);
      Object.assign(headers, retryHeaders({ shouldRetry: false }));
      call.count('spend_limit', 429);
      break;
    case 'rate_limited':
      call.settle(undefined);
      // The provider's bucket is empty whatever ours says: calibrate to it.
      call.drain();
      call.count('rate_limited', 429);
      break;
    case 'provider_failure':
      call.settle(undefined);
      call.fail('status', upstream.status);
      break;
    case 'caller_error':
      call.settle(undefined);
      call.succeed();
      break;
  }
  if (outcome === 'spend_limit' || outcome === 'rate_limited') await call.abandon();
  res.writeHead(upstream.status, { ...headers, 'content-length': String(text.length) });
  res.end(text);
}

/**
 * Pass an SSE stream through chunk by chunk, reading usage and errors on the way without holding
 * the stream back; the reservation is settled from what the stream reported.
 */
export async function relayStream(res: ServerResponse, upstream: UpstreamResponse, call: AdmittedCall, ctx: RelayContext): Promise<void> {
  // The headers come before the body: calibrate now, not when a long stream ends.
  call.calibrate(upstream.headers);
  res.writeHead(upstream.status, copyHeaders(upstream, ownHeaders(call)));
  const tap = new SseUsageTap();
  try {
    for await (const chunk of chunksWithIdleTimeout(upstream.body, ctx.idleTimeoutMs, ctx.abort)) {
      tap.push(chunk);
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
    }
  } catch (err) {
    // Unknown output: keep the whole reservation rather than risk overshooting the provider.
    call.settle(tap.outcome().usage, call.cost[2]);
    const reason: unknown = ctx.abort.signal.reason;
    if (reason instanceof UpstreamIdleError) {
      call.fail('idle_timeout');
      ctx.logger.warn('gateway.upstream_idle', { model: call.model, idleMs: reason.idleMs, streaming: true });
    } else if (!ctx.abort.signal.aborted || res.writableFinished) {
      call.fail('broken_stream');
      ctx.logger.warn('gateway.stream_broken', { model: call.model, error: errorMessage(err) });
    }
    res.destroy();
    return;
  }
  const outcome = tap.outcome();
  call.settle(outcome.usage, outcome.completed ? 0 : call.cost[2]);
  if (classifyStreamError(outcome.errorType) === 'provider_failure') call.fail('stream_error');
  else call.succeed();
  res.end();
}
