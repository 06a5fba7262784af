import type { Units } from './gcra';

/** The usage block of a Messages API reply (or the merged usage of a stream's events). */
export interface Usage {
  readonly input_tokens?: number;
  readonly output_tokens?: number;
  readonly cache_read_input_tokens?: number | null;
  readonly cache_creation_input_tokens?: number | null;
}

/**
 * Input tokens before the call, from the body's size. About four characters a token, counted over
 * the whole JSON body, over-estimates slightly; the refund after the call makes it exact, and an
 * over-estimate never lets the fleet overshoot while calls are in flight.
 */
export function estimateInputTokens(bodyBytes: number): number {
  return Math.max(1, Math.ceil(bodyBytes / 4));
}

/** What the provider charges against the input bucket; cache reads only where it counts them. */
export function chargedInput(usage: Usage, chargeCacheReads: boolean): number {
  return (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) + (chargeCacheReads ? (usage.cache_read_input_tokens ?? 0) : 0);
}

/** The correction after a call: actual minus reserved, per bucket (requests are never refunded). */
export function correction(reserved: Units, actual: { input: number; output: number }): Units {
  return [0, actual.input - reserved[1], actual.output - reserved[2]];
}

export interface StreamOutcome {
  /** Usage merged from message_start and message_delta events. */
  readonly usage: Usage;
  /** The `error` event's error type, when the stream failed after HTTP 200. */
  readonly errorType?: string;
  /** message_stop was seen. */
  readonly completed: boolean;
}

/**
 * Reads an SSE stream as it passes through, without holding it back: only `data:` lines of the
 * events that carry usage or errors are parsed.
 */
export class SseUsageTap {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  private usage: { -readonly [K in keyof Usage]: Usage[K] } = {};
  private errorType: string | undefined;
  private completed = false;

  push(chunk: Uint8Array): void {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    let end = this.buffer.indexOf('\n\n');
    while (end >= 0) {
      this.event(this.buffer.slice(0, end));
      this.buffer = this.buffer.slice(end + 2);
      end = this.buffer.indexOf('\n\n');
    }
  }

  outcome(): StreamOutcome {
    return { usage: { ...this.usage }, completed: this.completed, ...(this.errorType !== undefined ? { errorType: this.errorType } : {}) };
  }

  private event(block: string): void {
    const data = block
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (data === '') return;
    let parsed: { type?: string; message?: { usage?: Usage }; usage?: Usage; error?: { type?: string } };
    try {
      parsed = JSON.parse(data) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.type === 'message_start' && parsed.message?.usage !== undefined) Object.assign(this.usage, parsed.message.usage);
    else if (parsed.type === 'message_delta' && parsed.usage !== undefined) Object.assign(this.usage, parsed.usage);
    else if (parsed.type === 'message_stop') this.completed = true;
    else if (parsed.type === 'error') this.errorType = parsed.error?.type ?? 'api_error';
  }
}
