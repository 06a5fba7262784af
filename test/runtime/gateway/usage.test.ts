import { SseUsageTap, chargedInput, correction, estimateInputTokens } from '../../../runtime/src/gateway/usage';

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

describe('usage accounting', () => {
  it('GIVEN cache reads WHEN charging input THEN they count only where the provider counts them; cache writes always count', () => {
    const usage = { input_tokens: 100, output_tokens: 10, cache_read_input_tokens: 5000, cache_creation_input_tokens: 300 };
    expect(chargedInput(usage, false)).toBe(400);
    expect(chargedInput(usage, true)).toBe(5400);
  });

  it('GIVEN a reservation WHEN the reply is in THEN the correction refunds unused output and fixes the input estimate', () => {
    expect(correction([1, 500, 1024], { input: 420, output: 37 })).toEqual([0, -80, -987]);
    expect(estimateInputTokens(4001)).toBe(1001);
  });

  it('GIVEN an SSE stream split at arbitrary byte boundaries WHEN tapped THEN usage comes from message_start and message_delta', () => {
    const text =
      frame('message_start', { type: 'message_start', message: { usage: { input_tokens: 812, output_tokens: 1, cache_read_input_tokens: 64 } } }) +
      frame('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'héllo ✓' } }) +
      frame('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 57 } }) +
      frame('message_stop', { type: 'message_stop' });
    const bytes = new TextEncoder().encode(text);
    const tap = new SseUsageTap();
    for (let i = 0; i < bytes.length; i += 7) tap.push(bytes.slice(i, i + 7));
    expect(tap.outcome()).toEqual({ usage: { input_tokens: 812, output_tokens: 57, cache_read_input_tokens: 64 }, completed: true });
  });

  it('GIVEN an error event after HTTP 200 WHEN tapped THEN the outcome carries its type and is not complete', () => {
    const tap = new SseUsageTap();
    tap.push(new TextEncoder().encode(frame('message_start', { type: 'message_start', message: { usage: { input_tokens: 5 } } }) + frame('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })));
    expect(tap.outcome()).toMatchObject({ errorType: 'overloaded_error', completed: false });
  });
});
