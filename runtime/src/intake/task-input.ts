import { z } from 'zod';
import { PRIORITIES, renderStructuredInput } from '../shared/task-model';
import { taskBudgetSchema } from '../shared/task-budget';

/** Nesting deeper than this is refused before zod sees the body (deep JSON is a cheap DoS). */
export const MAX_JSON_DEPTH = 32;
export const MAX_PROMPT_CHARS = 100_000;
const MAX_METADATA_KEYS = 32;

const structuredInputSchema = z
  .object({
    instructions: z.string().min(1, 'must not be empty').max(MAX_PROMPT_CHARS, `must be at most ${MAX_PROMPT_CHARS} characters`),
    data: z.record(z.string().max(256), z.unknown()).optional().describe('Any JSON object; the agent receives it verbatim'),
  })
  .strict();

/** The body of POST /v1/tasks: exactly one of `prompt` or `input`. */
export const submitTaskSchema = z
  .object({
    prompt: z.string().min(1, 'must not be empty').max(MAX_PROMPT_CHARS, `must be at most ${MAX_PROMPT_CHARS} characters`).optional(),
    input: structuredInputSchema.optional().describe('Structured alternative to prompt: instructions plus JSON data'),
    priority: z.enum(PRIORITIES).default('normal'),
    metadata: z
      .record(z.string().min(1).max(128), z.string().max(1024, 'values must be at most 1024 characters'))
      .refine((m) => Object.keys(m).length <= MAX_METADATA_KEYS, `must have at most ${MAX_METADATA_KEYS} keys`)
      .optional(),
    callbackUrl: z.url('must be an absolute https URL').max(2048).optional().describe('https URL called once the task finishes; must resolve to a public address'),
    agent: z
      .string()
      .min(1, 'must not be empty')
      .max(64, 'must be at most 64 characters')
      .optional()
      .describe("The agent profile that runs the task (its prompts, tools and model); unset: the stage's default agent. An unknown name is refused, listing the valid ones"),
    budget: taskBudgetSchema
      .optional()
      .describe("Limits for this task; each may lower the API key's ceiling, never raise it. Unset fields take the agent's default (capped by the key's ceiling), else the key's default, else its ceiling"),
  })
  .strict()
  .refine((b) => (b.prompt === undefined) !== (b.input === undefined), {
    message: 'send exactly one of "prompt" (text) or "input" ({"instructions", "data"})',
    path: ['prompt'],
  });

export type SubmitTaskInput = z.infer<typeof submitTaskSchema>;

/** The text the agent receives: the prompt, or the instructions followed by the data as JSON. */
export function renderPrompt(input: SubmitTaskInput): string {
  if (input.prompt !== undefined) return input.prompt;
  return renderStructuredInput(input.input as z.infer<typeof structuredInputSchema>);
}

/** Depth of a parsed JSON value, iteratively, stopping as soon as `limit` is exceeded. */
export function exceedsDepth(value: unknown, limit: number): boolean {
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 0 }];
  while (stack.length > 0) {
    const { v, d } = stack.pop() as { v: unknown; d: number };
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > limit) return true;
    for (const child of Object.values(v)) stack.push({ v: child, d: d + 1 });
  }
  return false;
}

/** JSON with sorted keys, so equal bodies hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
