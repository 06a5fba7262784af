import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_AGENT_TOOLS, type BuiltinToolName } from '../../shared/agent-tools';
import type { ToolDefinition } from '../tool-registry';
import { calculatorTool } from './calculator';
import { httpFetchTool, type HttpFetchOptions } from './http-fetch';
import { publishAnnouncementTool } from './publish-announcement';
import { recordNoteTool } from './record-note';

/** The ports a built-in tool may need; each is injected so tests run the same modules. */
export interface BuiltinToolDeps {
  readonly dynamo: DynamoDBDocumentClient;
  readonly tableName: string;
  /** http_fetch's policy and caps; tests inject a policy that allows loopback. @default HttpFetchOptions defaults */
  readonly httpFetch?: HttpFetchOptions;
}

/**
 * One factory per built-in tool. The record's type makes a name in BUILTIN_TOOL_NAMES without a
 * module (or the reverse) a compile error, so configuration validated at synth always finds its tool.
 */
export const BUILTIN_TOOLS: { readonly [N in BuiltinToolName]: (deps: BuiltinToolDeps) => ToolDefinition } = {
  calculator: () => calculatorTool,
  record_note: (deps) => recordNoteTool({ client: deps.dynamo, tableName: deps.tableName }),
  http_fetch: (deps) => httpFetchTool(deps.httpFetch),
  publish_announcement: (deps) => publishAnnouncementTool({ client: deps.dynamo, tableName: deps.tableName }),
};

/** The configured built-in tools (AGENT_TOOLS), in the order given. */
export function builtinTools(names: readonly BuiltinToolName[] = DEFAULT_AGENT_TOOLS, deps: BuiltinToolDeps): ToolDefinition[] {
  return names.map((name) => BUILTIN_TOOLS[name](deps));
}
