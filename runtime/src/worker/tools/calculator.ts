import { z } from 'zod';
import { describeIssues } from '../../shared/zod-issues';
import type { ToolDefinition } from '../tool-registry';

const input = z.object({ a: z.number(), b: z.number(), op: z.enum(['add', 'sub', 'mul', 'div']) });

/** A pure tool: safe to re-run, so it declares no side effects. */
export const calculatorTool: ToolDefinition = {
  name: 'calculator',
  description: 'Apply an arithmetic operation (add, sub, mul, div) to two numbers.',
  inputSchema: {
    type: 'object',
    properties: { a: { type: 'number' }, b: { type: 'number' }, op: { type: 'string', enum: ['add', 'sub', 'mul', 'div'] } },
    required: ['a', 'b', 'op'],
  },
  sideEffects: false,
  async run(raw) {
    const parsed = input.safeParse(raw);
    if (!parsed.success) return { content: `invalid input: ${describeIssues(parsed.error)}`, isError: true };
    const { a, b, op } = parsed.data;
    if (op === 'div' && b === 0) return { content: 'division by zero', isError: true };
    const value = op === 'add' ? a + b : op === 'sub' ? a - b : op === 'mul' ? a * b : a / b;
    return { content: String(value) };
  },
};
