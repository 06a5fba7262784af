import { z } from 'zod';
import { defineTool } from '../tool-registry';

const input = z
  .object({
    a: z.number().describe('Left operand'),
    b: z.number().describe('Right operand'),
    op: z.enum(['add', 'sub', 'mul', 'div']).describe('Operation'),
  })
  .strict();

/** A pure tool: safe to re-run, so it is read-only. */
export const calculatorTool = defineTool({
  name: 'calculator',
  description: 'Apply an arithmetic operation (add, sub, mul, div) to two numbers.',
  input,
  risk: 'read_only',
  async run({ a, b, op }) {
    if (op === 'div' && b === 0) return { content: 'division by zero', isError: true };
    const value = op === 'add' ? a + b : op === 'sub' ? a - b : op === 'mul' ? a * b : a / b;
    return { content: String(value) };
  },
});
