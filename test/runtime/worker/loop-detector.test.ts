import { loadWorkerConfig } from '../../../runtime/src/shared/config';
import type { StepRecord } from '../../../runtime/src/shared/task-model';
import { callSignature, detectLoop } from '../../../runtime/src/worker/loop-detector';

/** One LLM step per call, each followed by its tool result, as the checkpoints hold them. */
function history(calls: readonly [string, unknown][]): StepRecord[] {
  const steps: StepRecord[] = [];
  calls.forEach(([name, input], i) => {
    const base = { taskId: 't', fence: 1, createdAt: '2026-01-01T00:00:00Z' };
    steps.push({ ...base, seq: steps.length + 1, kind: 'llm', payload: { content: [{ type: 'tool_use', id: `u${i}`, name, input }], stopReason: 'tool_use', model: 'm', inputTokens: 1, outputTokens: 1 } });
    if (i < calls.length - 1) steps.push({ ...base, seq: steps.length + 1, kind: 'tool', payload: { toolUseId: `u${i}`, name, content: 'ok', isError: false } });
  });
  return steps;
}
const last = (calls: readonly unknown[]) => `u${calls.length - 1}`;
const A: [string, unknown] = ['calculator', { a: 2, b: 3, op: 'mul' }];
const B: [string, unknown] = ['record_note', { text: 'x' }];
const C: [string, unknown] = ['http_fetch', { url: 'https://example.com/' }];

describe('loop detection (pure, from the checkpoints)', () => {
  it('GIVEN the same call twice THEN no loop; a third time THEN a repeated call', () => {
    expect(detectLoop(history([A, A]), 'u1')).toBeUndefined();
    expect(detectLoop(history([A, A, A]), 'u2')).toMatchObject({ kind: 'repeated_call', message: expect.stringContaining('calculator was called 3 times with the same input') });
  });

  it('GIVEN the same input with its keys in another order THEN it is the same call', () => {
    expect(callSignature('calculator', { a: 2, b: 3 })).toBe(callSignature('calculator', { b: 3, a: 2 }));
    expect(callSignature('calculator', { a: 2, b: 3 })).not.toBe(callSignature('calculator', { a: 2, b: 4 }));
    const reordered: [string, unknown] = ['calculator', { op: 'mul', b: 3, a: 2 }];
    expect(detectLoop(history([A, reordered, A]), 'u2')?.kind).toBe('repeated_call');
  });

  it('GIVEN the same tool with different inputs THEN no loop', () => {
    const calls: [string, unknown][] = [1, 2, 3, 4, 5].map((n) => ['calculator', { a: n, b: 3, op: 'mul' }]);
    expect(detectLoop(history(calls), last(calls))).toBeUndefined();
  });

  it('GIVEN A B A B THEN a cycle of two; A B C A B C THEN a cycle of three', () => {
    expect(detectLoop(history([A, B, A]), 'u2')).toBeUndefined();
    expect(detectLoop(history([A, B, A, B]), 'u3')).toMatchObject({ kind: 'cycle', message: expect.stringContaining('calculator → record_note') });
    expect(detectLoop(history([A, B, C, A, B, C]), 'u5')).toMatchObject({ kind: 'cycle', message: expect.stringContaining('same 3 calls') });
  });

  it('GIVEN A A B B THEN no cycle (a pair of repeats is not a cycle)', () => {
    expect(detectLoop(history([A, A, B, B]), 'u3')).toBeUndefined();
  });

  it('GIVEN configured thresholds THEN they decide', () => {
    expect(detectLoop(history([A, A, A]), 'u2', { sameCall: 4, cycleRepeats: 2, maxCycleLength: 4 })).toBeUndefined();
    expect(detectLoop(history([A, B, A, B]), 'u3', { sameCall: 5, cycleRepeats: 3, maxCycleLength: 4 })).toBeUndefined();
    expect(detectLoop(history([A, B, A, B, A, B]), 'u5', { sameCall: 5, cycleRepeats: 3, maxCycleLength: 4 })?.kind).toBe('cycle');
    expect(detectLoop(history([A, B, C, A, B, C]), 'u5', { sameCall: 5, cycleRepeats: 2, maxCycleLength: 2 })).toBeUndefined();
  });

  it('GIVEN several tool uses in one reply THEN each is judged at its place in the order', () => {
    const base = { taskId: 't', fence: 1, createdAt: '2026-01-01T00:00:00Z' };
    const use = (id: string) => ({ type: 'tool_use', id, name: A[0], input: A[1] });
    const steps: StepRecord[] = [{ ...base, seq: 1, kind: 'llm', payload: { content: [use('p1'), use('p2'), use('p3')], stopReason: 'tool_use', model: 'm', inputTokens: 1, outputTokens: 1 } }];
    expect(detectLoop(steps, 'p2')).toBeUndefined();
    expect(detectLoop(steps, 'p3')?.kind).toBe('repeated_call');
  });
});

describe('loop thresholds are configured at start', () => {
  const env = { TASKS_TABLE: 'tasks', QUEUE_URL_HIGH: 'http://q/1/high', QUEUE_URL_NORMAL: 'http://q/1/normal', GATEWAY_URL: 'http://gateway:8090' };
  it('GIVEN nothing set THEN the defaults; GIVEN values THEN those', () => {
    expect(loadWorkerConfig(env).loopThresholds).toEqual({ sameCall: 3, cycleRepeats: 2, maxCycleLength: 4 });
    expect(loadWorkerConfig({ ...env, LOOP_SAME_CALL_LIMIT: '5', LOOP_CYCLE_REPEATS: '3', LOOP_MAX_CYCLE_LENGTH: '6' }).loopThresholds).toEqual({ sameCall: 5, cycleRepeats: 3, maxCycleLength: 6 });
  });
  it('GIVEN a limit of 1 THEN start fails naming the variable', () => {
    expect(() => loadWorkerConfig({ ...env, LOOP_SAME_CALL_LIMIT: '1' })).toThrow(/LOOP_SAME_CALL_LIMIT="1"/);
  });
});
