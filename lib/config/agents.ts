import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AGENT_NAME_PATTERN, PROMPTS_FOLDER_PATTERN, checkAgentList, type AgentProfile } from '../../runtime/src/shared/agent-profiles';
import { agentToolsSchema } from '../../runtime/src/shared/agent-tools';
import { parseGatewayLimits } from '../../runtime/src/shared/gateway-limits';
import { mcpServerListSchema } from '../../runtime/src/shared/mcp-servers';
import { taskBudgetSchema } from '../../runtime/src/shared/task-budget';

/**
 * The stage's agents (`agents` in the stage configuration). Each one becomes a profile in the
 * workers' AGENTS (its prompts, tools, MCP servers and model) and an entry in the intake's
 * INTAKE_AGENTS (its name and default budget). Validated here with the runtime's own schemas, so
 * a bad agent fails synth, not the deployed worker's start.
 */

/** The repository's prompts root: the Dockerfile copies it, tools/bundle.mjs ships it as dist/prompts. */
export const PROMPTS_ROOT = join(__dirname, '..', '..', 'prompts');

export const stageAgentSchema = z.strictObject({
  name: z.string().regex(AGENT_NAME_PATTERN, 'must be 1-32 lower-case letters, digits or dashes, starting with a letter (clients send it as `agent`)'),
  /** Tasks that name no agent run with this one; exactly one agent sets it. */
  default: z.boolean().optional(),
  /**
   * Its prompts folder under prompts/ ("." is prompts/ itself); `system.md` there is its system
   * prompt and the folder's hash its PromptVersion. @default '.'
   */
  prompts: z.string().regex(PROMPTS_FOLDER_PATTERN, 'must be "." (prompts/ itself) or a folder under prompts/ such as "researcher" (lower case, no "..")').default('.'),
  /** Built-in tools by name (docs/tools.md). */
  tools: agentToolsSchema,
  /** MCP servers whose tools it offers; the workers get egress to each. @default none */
  mcpServers: mcpServerListSchema.optional(),
  /** A tier of the gateway's limits (`services.gateway.limits.tiers`): its first model is the agent's. @default the stage's `model` */
  modelTier: z.string().min(1).optional(),
  /** The budget its tasks get where the request sets none, capped by the API key's ceiling. @default none */
  budget: taskBudgetSchema.optional(),
});

export type StageAgent = z.infer<typeof stageAgentSchema>;

export const stageAgentListSchema = z.array(stageAgentSchema).min(1, 'define at least one agent (and mark one "default": true)').superRefine(checkAgentList);

/** Problems with an agent's prompts folder in the checkout; undefined when it holds prompt files. */
export function promptsFolderProblem(folder: string, root = PROMPTS_ROOT): string | undefined {
  const dir = folder === '.' ? root : join(root, folder);
  if (!existsSync(dir)) return `prompts/${folder} does not exist; create it with a system.md (it ships in the image as dist/prompts/${folder})`;
  const prompts = readdirSync(dir).filter((f) => /^[a-z0-9][a-z0-9_-]*\.md$/i.test(f) && f.toLowerCase() !== 'readme.md');
  if (prompts.length === 0) return `prompts/${folder} holds no <name>.md prompt files; add its system.md`;
  return undefined;
}

/** The gateway's tier names, from the stage's limits or the runtime's defaults; undefined when the limits are invalid (reported elsewhere). */
export function gatewayTiers(limits: Readonly<Record<string, unknown>> | undefined): Readonly<Record<string, { readonly models: readonly string[] }>> | undefined {
  try {
    return parseGatewayLimits(limits).tiers;
  } catch {
    return undefined;
  }
}

/** Checks that need the rest of the stage: tiers against the gateway's limits, prompts folders against the checkout. */
export function checkStageAgents(agents: readonly StageAgent[], limits: Readonly<Record<string, unknown>> | undefined, ctx: z.RefinementCtx, root = PROMPTS_ROOT): void {
  const tiers = gatewayTiers(limits);
  for (const [i, agent] of agents.entries()) {
    const problem = promptsFolderProblem(agent.prompts, root);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['agents', i, 'prompts'], message: problem });
    if (agent.modelTier !== undefined && tiers !== undefined && tiers[agent.modelTier] === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['agents', i, 'modelTier'],
        message: `unknown tier "${agent.modelTier}"; use one of the gateway's tiers (${Object.keys(tiers).join(', ')}), add it to services.gateway.limits.tiers, or leave modelTier out for the stage's model`,
      });
    }
  }
}

/**
 * The workers' profiles (AGENTS): each tier resolved to its first model, so the worker needs no
 * copy of the gateway's limits. Call only with a validated stage configuration.
 */
export function agentProfiles(agents: readonly StageAgent[], limits: Readonly<Record<string, unknown>> | undefined): AgentProfile[] {
  const tiers = gatewayTiers(limits) ?? {};
  return agents.map((a) => {
    const model = a.modelTier === undefined ? undefined : tiers[a.modelTier]?.models[0];
    return {
      name: a.name,
      ...(a.default === true ? { default: true } : {}),
      prompts: a.prompts,
      tools: [...a.tools],
      ...(a.mcpServers !== undefined && a.mcpServers.length > 0 ? { mcpServers: a.mcpServers } : {}),
      ...(model !== undefined ? { model, modelTier: a.modelTier } : {}),
      ...(a.budget !== undefined ? { budget: a.budget } : {}),
    };
  });
}
