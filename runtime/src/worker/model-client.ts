import Anthropic from '@anthropic-ai/sdk';

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
    create: (request, callOptions) =>
      client.messages.create(
        { ...request, stream: false } as Anthropic.MessageCreateParamsNonStreaming,
        { signal: callOptions.signal, ...(callOptions.headers !== undefined ? { headers: { ...callOptions.headers } } : {}) },
      ),
  };
}
