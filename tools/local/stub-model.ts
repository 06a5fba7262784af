import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { HttpError } from '../../runtime/src/shared/errors';
import { listen, readBody, sendJson, type RunningServer } from '../../runtime/src/shared/http';
import { silentLogger, type Logger } from '../../runtime/src/shared/logger';

/** The parts of a Messages API request the stub reads. */
export interface StubRequest {
  readonly model: string;
  readonly max_tokens: number;
  readonly stream?: boolean;
  readonly messages: { role: string; content: unknown }[];
  readonly tools?: { name: string }[];
}

/** What a test can make the stub answer instead of a normal reply. */
export interface StubOverride {
  /** Answer with this status and `body` instead of a reply; unset keeps the normal reply (with the changes below). */
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Delay before answering, in ms. */
  readonly delayMs?: number;
  /**
   * Streaming requests only: `'broken'` cuts the connection after the first content delta;
   * an error object sends an SSE `error` event after HTTP 200 (as the provider does when overloaded mid-stream).
   */
  readonly streamFailure?: 'broken' | { readonly type: string; readonly message: string };
  /** Cache-read tokens to report in usage (they are not part of input_tokens). */
  readonly cacheReadTokens?: number;
}

const anthropicError = (type: string, message: string, details?: unknown) => ({ type: 'error', error: { type, message, ...(details !== undefined ? { details } : {}) } });

/** Ready-made failures in the provider's own shapes, for `intercept`. */
export const stubFailures = {
  overloaded: (): StubOverride => ({ status: 529, body: anthropicError('overloaded_error', 'Overloaded') }),
  serverError: (status = 500): StubOverride => ({ status, body: anthropicError('api_error', 'Internal server error') }),
  rateLimited: (retryAfterSeconds = 1): StubOverride => ({
    status: 429,
    body: anthropicError('rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'),
    headers: { 'retry-after': String(retryAfterSeconds) },
  }),
  spendLimit: (): StubOverride => ({
    status: 429,
    body: anthropicError('rate_limit_error', 'Your organization has reached its spend limit', { error_code: 'enforced_spend_limit_reached' }),
  }),
  slow: (delayMs: number): StubOverride => ({ delayMs }),
  brokenStream: (): StubOverride => ({ streamFailure: 'broken' }),
  streamError: (type = 'overloaded_error', message = 'Overloaded'): StubOverride => ({ streamFailure: { type, message } }),
} as const;

/**
 * Provider weather for soaks: between `startMs` and `startMs + durationMs` (from the clock), a share
 * `failRatio` of calls answers 429 (rate limited, `retry-after` 1 s) or 529 (overloaded), half and
 * half; outside the window it answers normally. Combine with other intercepts by calling it first.
 */
export function providerWeather(options: {
  /** When the window opens (epoch ms), or a function read on each call (the window can be placed later). */
  readonly startMs: number | (() => number);
  readonly durationMs: number;
  /** @default 0.5 */
  readonly failRatio?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default Math.random */
  readonly random?: () => number;
}): { intercept: (call: StubCall) => StubOverride | undefined; readonly injected: { rateLimited: number; overloaded: number } } {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const failRatio = options.failRatio ?? 0.5;
  const injected = { rateLimited: 0, overloaded: 0 };
  return {
    injected,
    intercept: (call) => {
      const t = now();
      const start = typeof options.startMs === 'function' ? options.startMs() : options.startMs;
      if (call.prompt === 'ping' || t < start || t >= start + options.durationMs) return undefined;
      const r = random();
      if (r >= failRatio) return undefined;
      if (r < failRatio / 2) {
        injected.rateLimited += 1;
        return stubFailures.rateLimited(1);
      }
      injected.overloaded += 1;
      return stubFailures.overloaded();
    },
  };
}

export interface StubCall {
  readonly at: number;
  readonly path: string;
  readonly model: string;
  readonly stream: boolean;
  readonly taskId?: string;
  /** Tool results already in the conversation: the step the model is asked to take. */
  readonly toolResults: number;
  /** The conversation's first user message (the task prompt), to tell tasks apart. */
  readonly prompt: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** One kind's `anthropic-ratelimit-<kind>-*` values; each is sent only when set. */
export interface StubRateLimit {
  readonly limit?: number;
  readonly remaining?: number;
  /** Sent as an RFC 3339 timestamp. */
  readonly resetAt?: Date;
}

/**
 * The provider's rate-limit headers for one reply, by kind; raw strings (also malformed ones)
 * may be added through `headers`.
 */
export interface StubRateLimitHeaders {
  readonly requests?: StubRateLimit;
  readonly inputTokens?: StubRateLimit;
  readonly outputTokens?: StubRateLimit;
}

/** The `anthropic-ratelimit-*` headers for `limits`, as the provider names them. */
export function rateLimitHeaders(limits: StubRateLimitHeaders): Record<string, string> {
  const headers: Record<string, string> = {};
  const kinds = [
    ['requests', limits.requests],
    ['input-tokens', limits.inputTokens],
    ['output-tokens', limits.outputTokens],
  ] as const;
  for (const [kind, l] of kinds) {
    if (l?.limit !== undefined) headers[`anthropic-ratelimit-${kind}-limit`] = String(l.limit);
    if (l?.remaining !== undefined) headers[`anthropic-ratelimit-${kind}-remaining`] = String(l.remaining);
    if (l?.resetAt !== undefined) headers[`anthropic-ratelimit-${kind}-reset`] = l.resetAt.toISOString();
  }
  return headers;
}

export interface StubModelOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** Added latency per reply. @default 0 */
  readonly latencyMs?: number;
  /** Return an override to inject a failure for this call; undefined answers normally. */
  readonly intercept?: (call: StubCall, request: StubRequest) => StubOverride | undefined;
  /**
   * Rate-limit headers to send on /v1/messages replies (also on overridden ones, whose own
   * headers win), fixed or per call; undefined sends none. @default none
   */
  readonly rateLimitHeaders?: StubRateLimitHeaders | ((call: StubCall) => StubRateLimitHeaders | undefined);
  readonly logger?: Logger;
}

export interface StubModel {
  readonly url: string;
  readonly calls: StubCall[];
  close(): Promise<void>;
}

type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

const estimateTokens = (value: unknown): number => Math.max(1, Math.ceil(JSON.stringify(value).length / 4));

function countToolResults(messages: StubRequest['messages']): number {
  // A worker that trimmed its context says how many tool results it left out (worker/context-window.ts).
  const first = messages[0];
  const trimmed = typeof first?.content === 'string' ? /with (\d+) tool result\(s\) were left out/.exec(first.content) : null;
  let n = Number(trimmed?.[1] ?? 0);
  for (const m of messages) {
    if (m.role !== 'user' || !Array.isArray(m.content)) continue;
    for (const block of m.content as { type?: string }[]) if (block.type === 'tool_result') n += 1;
  }
  return n;
}

function firstPrompt(messages: StubRequest['messages']): string {
  const first = messages[0];
  if (first === undefined) return '';
  return typeof first.content === 'string' ? first.content : JSON.stringify(first.content);
}

/**
 * The scripted agent: a prompt may say `[tools:N]` (default 2); the stub asks for N tool calls in
 * turn, alternating `calculator` and `record_note` when those tools are offered, then answers
 * with text that quotes the tool results it saw. `[repeat:N]` instead asks N times for the same
 * tool with the same input (`calculator` 2 × 3 when offered), which the worker's loop detection
 * catches from the third call. `[approval]` asks once for `publish_announcement` (the tool that
 * needs a person's approval) and then answers with what the worker returned: the tool's result
 * when approved, the denial otherwise. Deterministic, so tests can assert on it.
 */
export function scriptedReply(request: StubRequest): { content: Block[]; stopReason: 'tool_use' | 'end_turn' } {
  const prompt = firstPrompt(request.messages);
  const repeat = /\[repeat:(\d+)\]/.exec(prompt)?.[1];
  const wanted = Number(repeat ?? /\[tools:(\d+)\]/.exec(prompt)?.[1] ?? (/\[approval\]/.test(prompt) ? '1' : '2'));
  const done = countToolResults(request.messages);
  const offered = new Set((request.tools ?? []).map((t) => t.name));
  if (repeat !== undefined && done < wanted && offered.size > 0) {
    const name = offered.has('calculator') ? 'calculator' : ([...offered][0] as string);
    const input = name === 'calculator' ? { a: 2, b: 3, op: 'mul' } : { text: 'the same note again' };
    return {
      content: [
        { type: 'text', text: `Attempt ${done + 1}: calling ${name} again.` },
        { type: 'tool_use', id: `toolu_${randomUUID().replace(/-/g, '').slice(0, 24)}`, name, input },
      ],
      stopReason: 'tool_use',
    };
  }
  if (/\[approval\]/.test(prompt) && done === 0 && offered.has('publish_announcement')) {
    // One call of the tool that needs a person's approval; the answer quotes what the worker returned.
    return {
      content: [
        { type: 'text', text: 'Publishing the announcement (a person must approve it first).' },
        { type: 'tool_use', id: `toolu_${randomUUID().replace(/-/g, '').slice(0, 24)}`, name: 'publish_announcement', input: { audience: 'all customers', text: `announcement for: ${prompt.slice(0, 80)}` } },
      ],
      stopReason: 'tool_use',
    };
  }
  if (done < wanted && offered.size > 0) {
    const useCalc = done % 2 === 0 && offered.has('calculator');
    const name = useCalc ? 'calculator' : offered.has('record_note') ? 'record_note' : [...offered][0] as string;
    const input = name === 'calculator' ? { a: done + 2, b: 3, op: 'mul' } : { text: `note ${done + 1} for: ${prompt.slice(0, 80)}` };
    return {
      content: [
        { type: 'text', text: `Step ${done + 1}: calling ${name}.` },
        { type: 'tool_use', id: `toolu_${randomUUID().replace(/-/g, '').slice(0, 24)}`, name, input },
      ],
      stopReason: 'tool_use',
    };
  }
  const results: string[] = [];
  for (const m of request.messages) {
    if (m.role !== 'user' || !Array.isArray(m.content)) continue;
    for (const b of m.content as { type?: string; content?: unknown }[]) if (b.type === 'tool_result') results.push(String(b.content));
  }
  return { content: [{ type: 'text', text: `Done after ${done} tool calls. Results: ${results.join(' | ') || 'none'}` }], stopReason: 'end_turn' };
}

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function streamReply(
  res: ServerResponse,
  message: Record<string, unknown>,
  content: Block[],
  stopReason: string,
  outputTokens: number,
  failure?: StubOverride['streamFailure'],
  extraHeaders: Record<string, string> = {},
): void {
  res.writeHead(200, { ...extraHeaders, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  sse(res, 'message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { ...(message['usage'] as object), output_tokens: 1 } } });
  if (failure === 'broken') {
    sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    // Let the bytes above reach the client before the connection drops.
    setTimeout(() => res.destroy(), 20);
    return;
  }
  if (failure !== undefined) {
    sse(res, 'error', anthropicError(failure.type, failure.message));
    res.end();
    return;
  }
  content.forEach((block, index) => {
    if (block.type === 'text') {
      sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } });
    } else {
      sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
    }
    sse(res, 'content_block_stop', { type: 'content_block_stop', index });
  });
  sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

/** A stub Anthropic Messages API server for local runs and tests (used when no API key is set). */
export async function startStubModel(options: StubModelOptions = {}): Promise<StubModel> {
  const calls: StubCall[] = [];
  const logger = options.logger ?? silentLogger;
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (req.method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')) {
      throw new HttpError(404, 'not_found_error', `stub model has no route ${req.method ?? '?'} ${path}`);
    }
    const request = JSON.parse((await readBody(req, 32 * 1024 * 1024)).toString('utf8')) as StubRequest;
    if (path === '/v1/messages/count_tokens') return sendJson(res, 200, { input_tokens: estimateTokens(request.messages) });
    const taskId = req.headers['x-openclaw-task-id'];
    const call: StubCall = {
      at: Date.now(),
      path,
      model: request.model,
      stream: request.stream === true,
      ...(typeof taskId === 'string' ? { taskId } : {}),
      toolResults: countToolResults(request.messages),
      prompt: firstPrompt(request.messages),
      headers: { ...req.headers },
    };
    calls.push(call);
    const override = options.intercept?.(call, request);
    const limits = typeof options.rateLimitHeaders === 'function' ? options.rateLimitHeaders(call) : options.rateLimitHeaders;
    const limitHeaders = limits !== undefined ? rateLimitHeaders(limits) : {};
    const headers = { ...limitHeaders, ...override?.headers };
    if (override?.delayMs !== undefined) await new Promise((r) => setTimeout(r, override.delayMs));
    if (override?.status !== undefined) return sendJson(res, override.status, override.body ?? {}, headers);
    if ((options.latencyMs ?? 0) > 0) await new Promise((r) => setTimeout(r, options.latencyMs));

    const { content, stopReason } = scriptedReply(request);
    const inputTokens = estimateTokens(request.messages);
    const outputTokens = Math.min(request.max_tokens, estimateTokens(content));
    const message = {
      id: `msg_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
      type: 'message',
      role: 'assistant',
      model: request.model,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: outputTokens, cache_read_input_tokens: override?.cacheReadTokens ?? 0, cache_creation_input_tokens: 0 },
    };
    logger.debug('stub.reply', { taskId: call.taskId, toolResults: call.toolResults, stopReason });
    if (request.stream === true) return streamReply(res, message, content, stopReason, outputTokens, override?.streamFailure, limitHeaders);
    return sendJson(res, 200, { ...message, content, stop_reason: stopReason }, headers);
  };
  const server: RunningServer = await listen(handler, options.port ?? 0, logger, '127.0.0.1');
  return { url: server.url, calls, close: () => server.close() };
}
