import { z } from 'zod';
import { ConfigError } from './errors';
import { describeIssues } from './zod-issues';

/**
 * The MCP servers an agent takes tools from: the contract between the stage configuration (the
 * CDK validates it at synth and opens the workers' egress to each URL) and the worker (which
 * connects at start). Passed to the worker as `MCP_SERVERS` (JSON).
 */
export const mcpServerSchema = z
  .object({
    /** Prefix of the tools' names as the model sees them (`<name>__<tool>`). */
    name: z.string().regex(/^[a-zA-Z0-9-]{1,20}$/, 'must be 1-20 letters, digits or dashes (it prefixes the tool names the model sees)'),
    /** Streamable HTTP endpoint, e.g. https://mcp.example.com/mcp. */
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL of the server\'s Streamable HTTP endpoint, e.g. https://mcp.example.com/mcp' }),
    /** Secrets Manager secret whose SecretString is the bearer token sent to the server. */
    authSecretArn: z.string().regex(/^arn:aws[a-z-]*:secretsmanager:/, 'must be a Secrets Manager secret ARN').optional(),
    /** Only these of the server's tools are offered (its own names, unprefixed). @default every tool */
    allowTools: z.array(z.string().min(1)).min(1).optional(),
    /** How a tool the server marks destructive is run. @default 'requires_approval' */
    destructive: z.enum(['requires_approval', 'side_effecting']).default('requires_approval'),
    /** Longest wait for one tool call. @default 30000 */
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  })
  .strict();

export type McpServerConfig = z.infer<typeof mcpServerSchema>;

/** The list, names unique: the stage schema uses it as is. */
export const mcpServerListSchema = z.array(mcpServerSchema).superRefine((servers, ctx) => {
  const seen = new Set<string>();
  for (const [i, s] of servers.entries()) {
    if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${s.name}" is used twice; server names must be unique` });
    seen.add(s.name);
  }
});

/** Validate a list of servers (stage config or parsed env); errors name the entry, the key and the fix. */
export function parseMcpServers(value: unknown, source = 'MCP_SERVERS'): McpServerConfig[] {
  const parsed = mcpServerListSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(`${source} is invalid: ${describeIssues(parsed.error)}`, { source });
  return parsed.data;
}

/** `MCP_SERVERS` as the worker reads it: unset or empty means no MCP servers. */
export function parseMcpServersJson(text: string | undefined, source = 'MCP_SERVERS'): McpServerConfig[] {
  if (text === undefined || text.trim() === '') return [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`${source} is not valid JSON; expected [{"name":"docs","url":"https://mcp.example.com/mcp"}]`, { source });
  }
  return parseMcpServers(raw, source);
}
