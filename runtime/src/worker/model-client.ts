import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { OpenClawError } from '../shared/errors';
import { ProviderWeatherError, asWeather } from './provider-weather';

/**
 * The gateway's circuit is open (503 with `x-should-retry: false`): the task did nothing wrong,
 * so the worker hands the message back and stops polling instead of counting a failure.
 */
export class GatewayCircuitOpenError extends OpenClawError {
  constructor(context: Record<string, unknown>, cause: unknown) {
    super('circuit_open', 'The LLM gateway reports its circuit open (503, x-should-retry: false); pausing until it recovers', context, { cause });
  }
}

/** True for the gateway's circuit-open answer, in whatever form the SDK surfaced it. */
export function isCircuitOpen(err: unknown): boolean {
  return err instanceof APIError && err.status === 503 && err.headers?.get('x-should-retry') === 'false';
}

/** The subset of a Messages API request the agent loop sends. */
export interface ModelRequest {
  readonly model: string;
  readonly max_tokens: number;
  readonly system?: string;
  readonly messages: Anthropic.MessageParam[];
  readonly tools?: Anthropic.Tool[];
}

export interface ModelCallOptions {
  readonly signal: AbortSignal;
  /** Lets the gateway put the call in the right lane and trace it. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Port for the LLM: the SDK against the gateway in production, a fake in unit tests. */
export interface ModelClient {
  create(request: ModelRequest, options: ModelCallOptions): Promise<Anthropic.Message>;
}

export interface AnthropicModelClientOptions {
  /** The gateway's URL; workers never talk to the provider directly. */
  readonly baseURL: string;
  /** @default 2 (the SDK's own default) */
  readonly maxRetries?: number;
  /** @default 600_000 */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export function anthropicModelClient(options: AnthropicModelClientOptions): ModelClient {
  const client = new Anthropic({
    baseURL: options.baseURL,
    // The gateway injects the real key; workers hold none.
    apiKey: 'via-gateway',
    maxRetries: options.maxRetries ?? 2,
    timeout: options.timeoutMs ?? 600_000,
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
  });
  return {
    create: async (request, callOptions) => {
      try {
        return await client.messages.create(
          { ...request, stream: false } as Anthropic.MessageCreateParamsNonStreaming,
          { signal: callOptions.signal, ...(callOptions.headers !== undefined ? { headers: { ...callOptions.headers } } : {}) },
        );
      } catch (err) {
        if (isCircuitOpen(err)) throw new GatewayCircuitOpenError({ requestId: (err as APIError).requestID ?? undefined }, err);
        // Rate limits, overload, 5xx, timeouts and a rejected key are not the task's fault.
        throw asWeather(err);
      }
    },
  };
}

/**
 * A one-token request through the gateway: the cheapest call that exercises its circuit breaker
 * (a half-open breaker admits it as the trial) and the provider key. True when calls get through
 * again: the circuit is not open and the key is not rejected.
 */
export function gatewayProbe(model: ModelClient, modelName: string): (signal: AbortSignal) => Promise<boolean> {
  return async (signal) => {
    try {
      await model.create(
        { model: modelName, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] },
        { signal, headers: { 'x-openclaw-priority': 'normal', 'x-openclaw-probe': 'true' } },
      );
      return true;
    } catch (err) {
      // Any other answer (even a rate limit) means neither the breaker nor the key stops us any more.
      const blocked = err instanceof GatewayCircuitOpenError || (err instanceof ProviderWeatherError && err.kind === 'auth_rejected');
      return !blocked && !signal.aborted;
    }
  };
}
