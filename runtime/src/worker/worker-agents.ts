import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DEFAULT_AGENT_TOOLS } from '../shared/agent-tools';
import type { AgentProfile } from '../shared/agent-profiles';
import type { Logger } from '../shared/logger';
import { PromptRegistry } from '../shared/prompt-registry';
import type { WorkerAgent } from './create-worker';
import { mcpToolSources } from './mcp/mcp-sources';
import type { McpToolSource } from './mcp/mcp-tool-source';
import { builtinTools, type BuiltinToolDeps } from './tools/catalog';

export interface AgentBuildPorts {
  /** The prompts root (`prompts/`, `dist/prompts` or PROMPTS_DIR): each agent's folder is under it. */
  readonly promptsRoot: string;
  readonly toolDeps: BuiltinToolDeps;
  /** Reads MCP servers' bearer tokens. */
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  readonly logger: Logger;
}

/** The worker's agents built from their profiles, and every MCP source among them (to start and stop). */
export interface BuiltAgents {
  readonly agents: WorkerAgent[];
  readonly toolSources: McpToolSource[];
}

/**
 * Read each agent's prompts (a missing folder fails the start, naming the agent), build its
 * built-in tools and its MCP sources. Each agent gets its own sources: an MCP server listed by two
 * agents is two connections, so an allowlist on one cannot leak tools into the other.
 */
export function buildWorkerAgents(profiles: readonly AgentProfile[], ports: AgentBuildPorts): BuiltAgents {
  const toolSources: McpToolSource[] = [];
  const agents = profiles.map((profile): WorkerAgent => {
    const sources = mcpToolSources(profile.mcpServers ?? [], ports.secrets, ports.logger.child({ agent: profile.name }));
    toolSources.push(...sources);
    return {
      name: profile.name,
      default: profile.default === true,
      prompts: PromptRegistry.forAgent(ports.promptsRoot, profile.prompts, profile.name),
      tools: builtinTools(profile.tools ?? DEFAULT_AGENT_TOOLS, ports.toolDeps),
      toolSources: sources,
      ...(profile.model !== undefined ? { modelName: profile.model } : {}),
    };
  });
  return { agents, toolSources };
}
