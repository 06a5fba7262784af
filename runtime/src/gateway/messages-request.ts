import type { IncomingMessage } from 'node:http';
import { LANES, tierOf, type GatewayLimits, type Lane } from '../shared/gateway-limits';
import { invalidRequest } from './gateway-errors';
import { routeModel } from './routing';

/** A request header's value, when present and not empty. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function parseLane(value: string | undefined): Lane {
  if (value === undefined) return 'normal';
  if ((LANES as readonly string[]).includes(value)) return value as Lane;
  throw invalidRequest(`x-openclaw-priority is "${value}"; send one of ${LANES.join(', ')}, or omit it for normal`);
}

export type MessagesBody = Record<string, unknown> & { model: string; max_tokens: number };

export function parseBody(raw: Buffer): MessagesBody {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw invalidRequest('The body is not JSON; send a Messages API request');
  }
  if (typeof body !== 'object' || body === null) throw invalidRequest('The body must be a JSON object (a Messages API request)');
  const b = body as Record<string, unknown>;
  if (typeof b['model'] !== 'string' || typeof b['max_tokens'] !== 'number' || !Number.isInteger(b['max_tokens']) || b['max_tokens'] < 1) {
    throw invalidRequest('model: a string and max_tokens: a positive integer are required');
  }
  return b as MessagesBody;
}

/** A /v1/messages call, parsed and routed: what admission and the upstream call need. */
export interface MessagesCall {
  readonly body: MessagesBody;
  readonly lane: Lane;
  /** The model after routing rules. */
  readonly model: string;
  /** A routing rule rewrote the model. */
  readonly routed: boolean;
  readonly tier: string;
  /** What goes upstream: the caller's bytes, or the body re-encoded with the routed model. */
  readonly payload: Buffer;
  /** How long admission may wait (ms): the queue's limit, or half the caller's own timeout. */
  readonly waitBudgetMs: number;
  /** `x-openclaw-pin-model: true`: never serve this call from a fallback model. */
  readonly pinned: boolean;
  /** The model the caller asked for, when a fallback serves the call instead. */
  readonly fallbackFrom?: string;
}

/** Parse the body and headers of a /v1/messages call and apply the routing rules. */
export function parseMessagesCall(req: IncomingMessage, raw: Buffer, limits: GatewayLimits): MessagesCall {
  const body = parseBody(raw);
  const lane = parseLane(header(req, 'x-openclaw-priority'));
  const intent = header(req, 'x-openclaw-intent');
  const route = routeModel(limits.routing, { model: body.model, maxTokens: body.max_tokens, system: body['system'], ...(intent !== undefined ? { intent } : {}) });
  const payload = route.routed ? Buffer.from(JSON.stringify({ ...body, model: route.model })) : raw;
  // The caller's own timeout bounds the wait; keep half of it for the upstream call itself.
  const callerTimeoutS = Number(header(req, 'x-stainless-timeout'));
  const waitBudgetMs = Number.isFinite(callerTimeoutS) && callerTimeoutS > 0 ? Math.min(limits.queue.maxWaitMs, (callerTimeoutS * 1000) / 2) : limits.queue.maxWaitMs;
  const pinned = header(req, 'x-openclaw-pin-model') === 'true';
  return { body, lane, model: route.model, routed: route.routed, tier: tierOf(limits, route.model), payload, waitBudgetMs, pinned };
}

/**
 * The same call served by its tier's fallback (the first model of the fallback tier), or
 * undefined when the caller pinned its model or the tier names no fallback.
 */
export function fallbackCall(call: MessagesCall, limits: GatewayLimits): MessagesCall | undefined {
  if (call.pinned || call.fallbackFrom !== undefined) return undefined;
  const tier = limits.tiers[call.tier]?.fallback;
  const model = tier === undefined ? undefined : limits.tiers[tier]?.models[0];
  if (tier === undefined || model === undefined) return undefined;
  return { ...call, model, tier, payload: Buffer.from(JSON.stringify({ ...call.body, model })), fallbackFrom: call.model };
}
