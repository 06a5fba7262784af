import { z } from 'zod';
import type { McpServerConfig } from '../../shared/mcp-servers';
import type { ToolContext, ToolDefinition, ToolResult, ToolRisk } from '../tool-registry';

/** A tool as an MCP server lists it (`tools/list`), reduced to what the worker reads. */
export interface McpToolInfo {
  readonly name: string;
  readonly description?: string | undefined;
  readonly inputSchema: Record<string, unknown>;
  readonly annotations?: {
    readonly readOnlyHint?: boolean | undefined;
    readonly destructiveHint?: boolean | undefined;
    readonly idempotentHint?: boolean | undefined;
  } | undefined;
}

/** Calls one tool on the server; the source supplies it (connection, auth, timeout, errors). */
export type McpCall = (tool: string, args: unknown, ctx: ToolContext) => Promise<ToolResult>;

/** `<server>__<tool>`: unique across servers and within the Messages API's name rule. */
export const mcpToolName = (server: string, tool: string): string => `${server}__${tool}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);

/**
 * The project's risk for an MCP tool, from its annotations. The MCP defaults are the cautious
 * ones: a tool that does not say it is read-only may change the world, and one that does not say
 * it is not destructive is treated as destructive.
 */
export function mcpRisk(annotations: McpToolInfo['annotations'], destructive: McpServerConfig['destructive']): ToolRisk {
  if (annotations?.readOnlyHint === true) return 'read_only';
  if (annotations?.destructiveHint ?? true) return destructive;
  return 'side_effecting';
}

/**
 * The server's JSON Schema as the zod schema the registry checks input with (and exports back to
 * the model). A schema zod cannot read becomes "any object": the server still validates.
 */
function inputOf(schema: Record<string, unknown>): z.ZodType {
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return z.looseObject({});
  }
}

/**
 * One MCP tool as a ToolDefinition. A non-idempotent side-effecting tool gets the exactly-once
 * treatment of every side-effecting tool (a fenced intent first; the key travels in the call's
 * `_meta`); when a crash interrupts it, the outcome is unknown unless the server declares the
 * tool idempotent, in which case calling it again with the same key is how it is reconciled.
 */
export function mcpToolDefinition(server: McpServerConfig, info: McpToolInfo, call: McpCall): ToolDefinition {
  const risk = mcpRisk(info.annotations, server.destructive);
  const base = {
    name: mcpToolName(server.name, info.name),
    description: `${info.description?.trim() || info.name} (MCP server ${server.name})`,
    input: inputOf(info.inputSchema),
    run: (input: unknown, ctx: ToolContext) => call(info.name, input, ctx),
  };
  if (risk === 'read_only') return { ...base, risk };
  if (info.annotations?.idempotentHint === true) {
    return {
      ...base,
      risk,
      idempotency: {
        onInterrupted: 'reconcile',
        // An idempotent tool called again with the same arguments has no further effect.
        reconcile: async () => ({ performed: false }),
      },
    };
  }
  return { ...base, risk, idempotency: { onInterrupted: 'outcome_unknown' } };
}
