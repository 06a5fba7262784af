/**
 * Agent profiles: the contract between the stage configuration (lib/config validates the agents at
 * synth and resolves each one's model tier to a model), the worker (which runs each task with its
 * agent's prompts, tools, MCP servers and model; AGENTS) and the intake (which accepts `agent` on
 * POST /v1/tasks and resolves the agent's default budget; INTAKE_AGENTS).
 *
 * Without AGENTS (a local run, an older template) a worker has one agent, `default`, made of
 * PROMPTS_DIR, AGENT_TOOLS, MCP_SERVERS and MODEL; without INTAKE_AGENTS the intake knows only it.
 */
import { z } from 'zod';
import { agentToolsSchema } from './agent-tools';
import { ConfigError } from './errors';
import { mcpServerListSchema } from './mcp-servers';
import { taskBudgetSchema } from './task-budget';
import { describeIssues } from './zod-issues';

/** The agent of a stage that configures none (and of rows written before agents existed). */
export const IMPLICIT_AGENT_NAME = 'default';

/** Names are a metric dimension, a span attribute and part of the API: short, lower case. */
export const AGENT_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
const NAME_FIX = 'must be 1-32 lower-case letters, digits or dashes, starting with a letter (it is the `agent` of POST /v1/tasks and the Agent metric dimension)';

/**
 * A prompts folder relative to the prompts root (`prompts/` in a checkout, `dist/prompts` in the
 * image, or PROMPTS_DIR): `.` is the root itself, `researcher` is `prompts/researcher/`. Never
 * absolute and never `..`, so every agent's prompts are inside what the image ships.
 */
export const PROMPTS_FOLDER_PATTERN = /^(\.|[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)*)$/;
const PROMPTS_FIX = 'must be "." (the prompts root) or a folder under it such as "researcher" (lower case, no "..", not absolute)';

const agentName = z.string().regex(AGENT_NAME_PATTERN, NAME_FIX);

/** One agent as the worker runs it (AGENTS). */
export const agentProfileSchema = z
  .object({
    name: agentName,
    /** The agent tasks get when they name none; exactly one agent has it. */
    default: z.boolean().optional(),
    /** Its prompt files (`system.md` is the system prompt); their hash is its PromptVersion. @default '.' */
    prompts: z.string().regex(PROMPTS_FOLDER_PATTERN, PROMPTS_FIX).default('.'),
    /** Built-in tools (runtime/src/shared/agent-tools.ts). @default DEFAULT_AGENT_TOOLS */
    tools: agentToolsSchema.optional(),
    /** MCP servers whose tools it offers too. @default none */
    mcpServers: mcpServerListSchema.optional(),
    /** The model it asks the gateway for (synth resolves `modelTier` to it). @default MODEL */
    model: z.string().min(1).optional(),
    /** The gateway tier `model` was resolved from, for people reading the configuration. */
    modelTier: z.string().min(1).optional(),
    /** The budget its tasks get where the request sets none (capped by the key's ceiling). @default none */
    budget: taskBudgetSchema.optional(),
  })
  .strict();

export type AgentProfile = z.infer<typeof agentProfileSchema>;
export type AgentProfileInput = z.input<typeof agentProfileSchema>;

/** One agent as the intake needs it (INTAKE_AGENTS): its name, whether it is the default, its default budget. */
export const agentDirectoryEntrySchema = agentProfileSchema.pick({ name: true, default: true, budget: true });
export type AgentDirectoryEntry = z.infer<typeof agentDirectoryEntrySchema>;

/** Names unique, exactly one default: one rule for the stage configuration, AGENTS and INTAKE_AGENTS. */
export function checkAgentList(agents: readonly { readonly name: string; readonly default?: boolean | undefined }[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  for (const [i, a] of agents.entries()) {
    if (seen.has(a.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${a.name}" is used twice; give every agent its own name` });
    seen.add(a.name);
  }
  const defaults = agents.filter((a) => a.default === true).map((a) => a.name);
  if (agents.length > 0 && defaults.length === 0) {
    ctx.addIssue({ code: 'custom', path: [], message: `no agent is the default; set "default": true on the one tasks get when they name none (one of ${agents.map((a) => a.name).join(', ')})` });
  }
  if (defaults.length > 1) {
    ctx.addIssue({ code: 'custom', path: [], message: `${defaults.join(' and ')} are both marked default; keep "default": true on exactly one agent` });
  }
}

export const agentProfileListSchema = z.array(agentProfileSchema).min(1, 'define at least one agent').superRefine(checkAgentList);
export const agentDirectorySchema = z.array(agentDirectoryEntrySchema).min(1, 'define at least one agent').superRefine(checkAgentList);

/** The agents a service knows, the default resolved. */
export interface AgentSet<A extends { readonly name: string }> {
  readonly agents: readonly A[];
  readonly defaultAgent: string;
}

/** What the intake knows: names, the default, each one's default budget. */
export type AgentDirectory = AgentSet<AgentDirectoryEntry>;

function parseJson<S extends z.ZodType>(schema: S, text: string, variable: string, example: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`${variable} is not valid JSON; expected ${example}`, { variable });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${variable} is invalid: ${describeIssues(parsed.error)}`, { variable });
  return parsed.data;
}

function withDefault<A extends { readonly name: string; readonly default?: boolean | undefined }>(agents: readonly A[]): AgentSet<A> {
  // checkAgentList guarantees exactly one.
  const found = agents.find((a) => a.default === true) ?? agents[0];
  return { agents, defaultAgent: found?.name ?? IMPLICIT_AGENT_NAME };
}

/** AGENTS as the worker reads it; the caller builds the implicit agent when it is unset. */
export function parseAgentProfilesJson(text: string, variable = 'AGENTS'): AgentSet<AgentProfile> {
  return withDefault(parseJson(agentProfileListSchema, text, variable, '[{"name":"assistant","default":true,"tools":["calculator"]}]'));
}

/** INTAKE_AGENTS as the intake reads it: unset means the one implicit agent. */
export function parseAgentDirectoryJson(text: string | undefined, variable = 'INTAKE_AGENTS'): AgentDirectory {
  if (text === undefined || text.trim() === '') return withDefault([{ name: IMPLICIT_AGENT_NAME, default: true }]);
  return withDefault(parseJson(agentDirectorySchema, text, variable, '[{"name":"assistant","default":true}]'));
}

/** The intake's view of a list of profiles: what the template passes as INTAKE_AGENTS. */
export function agentDirectoryOf(agents: readonly AgentProfile[]): AgentDirectoryEntry[] {
  return agents.map((a) => ({ name: a.name, ...(a.default === true ? { default: true } : {}), ...(a.budget !== undefined ? { budget: a.budget } : {}) }));
}

/** The agent a request names, or the default; undefined for a name the stage does not define. */
export function resolveAgent<A extends { readonly name: string }>(set: AgentSet<A>, requested: string | undefined): A | undefined {
  const name = requested ?? set.defaultAgent;
  return set.agents.find((a) => a.name === name);
}

/** For messages: `assistant (default), researcher`. */
export function describeAgents(set: AgentSet<{ readonly name: string }>): string {
  return set.agents.map((a) => (a.name === set.defaultAgent ? `${a.name} (default)` : a.name)).join(', ');
}
