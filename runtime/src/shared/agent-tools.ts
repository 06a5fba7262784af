/**
 * Which built-in tools an agent has: the contract between the stage configuration (validated at
 * synth), the worker's environment (AGENT_TOOLS, validated at start) and the worker's tool catalog
 * (runtime/src/worker/tools/catalog.ts, which must have a module for every name here).
 */
import { z } from 'zod';

/** Every built-in tool, by the name the model calls it. */
export const BUILTIN_TOOL_NAMES = ['calculator', 'record_note', 'http_fetch', 'publish_announcement'] as const;
export type BuiltinToolName = (typeof BUILTIN_TOOL_NAMES)[number];

/**
 * What a worker offers when nothing is configured. `http_fetch` is opt-in: it needs egress to the
 * internet from the workers' security group. `publish_announcement` (the human-approval demo) is
 * opt-in too: each call waits for a person's decision.
 */
export const DEFAULT_AGENT_TOOLS: readonly BuiltinToolName[] = ['calculator', 'record_note'];

const FIX = `list built-in tool names, each once, from: ${BUILTIN_TOOL_NAMES.join(', ')}`;

/** A list of built-in tool names: known, each once, at least one. */
export const agentToolsSchema = z
  .array(z.enum(BUILTIN_TOOL_NAMES, { error: (issue) => `unknown tool ${JSON.stringify(issue.input)}; ${FIX}` }))
  .min(1, `must name at least one tool; ${FIX}`)
  .refine((names) => new Set(names).size === names.length, { error: `names a tool twice; ${FIX}` });

/** The AGENT_TOOLS variable: comma-separated names (spaces ignored), parsed by `agentToolsSchema`. */
export const agentToolsEnvSchema = z
  .string()
  .transform((raw) => raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0))
  .pipe(agentToolsSchema);
