import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { McpServerConfig } from '../../shared/mcp-servers';
import { ProviderWeatherError } from '../provider-weather';
import type { ToolContext, ToolDefinition, ToolResult } from '../tool-registry';
import { mcpToolDefinition, type McpToolInfo } from './mcp-tools';

/**
 * The MCP server could not be reached (refused, reset, 5xx, session lost). Like provider
 * weather, it is nobody's fault in the task: the worker hands the task back without spending a
 * receive, and the step runs when the server is back.
 */
export class McpServerUnavailableError extends ProviderWeatherError {
  constructor(server: string, cause: unknown) {
    super('unreachable', {}, cause);
    this.message = `MCP server ${server} is unavailable (${causeText(cause)}); not the task's fault, handing it back`;
  }
}

function causeText(err: unknown): string {
  const inner = (err as { cause?: unknown }).cause;
  const text = err instanceof Error ? err.message : String(err);
  return inner instanceof Error ? `${text}: ${inner.message}` : text;
}

export interface McpToolSourceOptions {
  readonly server: McpServerConfig;
  readonly logger: Logger;
  /** The bearer token, read at connect time (from Secrets Manager in AWS). @default no auth */
  readonly token?: () => Promise<string | undefined>;
  /** How often the list is re-read even without a `tools/list_changed` notification. @default 60000 */
  readonly refreshMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** Whether an error from the SDK means the server was not reached (as opposed to a tool's own error). */
export function isUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    // StreamableHTTPError carries the HTTP status as its code.
    if (typeof code === 'number' && (code >= 500 || code === 404) && (e as Error).name !== 'McpError') return true;
    if (e instanceof TypeError && /fetch failed/.test(e.message)) return true;
    if (e instanceof McpError && e.code === ErrorCode.ConnectionClosed) return true;
  }
  return false;
}

/**
 * One MCP server as a source of tools, over Streamable HTTP with the official SDK client. It lists
 * the server's tools (filtered by the allowlist) into ToolDefinitions, re-lists them when the
 * server says its list changed (and every `refreshMs`), and calls them with the task's idempotency
 * key and fence in `_meta`, bounded by the server's timeout.
 */
export class McpToolSource {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private tools: ToolDefinition[] = [];
  private readonly listeners: ((tools: readonly ToolDefinition[]) => void)[] = [];

  constructor(private readonly options: McpToolSourceOptions) {}

  get server(): McpServerConfig {
    return this.options.server;
  }

  /** Be told the tools whenever they are (re)listed (the worker swaps them into its registry). */
  listen(listener: (tools: readonly ToolDefinition[]) => void): void {
    this.listeners.push(listener);
  }

  /** The tools as last listed. */
  current(): readonly ToolDefinition[] {
    return this.tools;
  }

  /**
   * Connect and list; a server that is down at start is logged, not fatal (its tools are simply
   * not offered until it answers a later refresh).
   */
  async start(): Promise<void> {
    await this.refresh().catch((err: unknown) => this.options.logger.warn('mcp.unavailable', { server: this.server.name, error: errorMessage(err) }));
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.options.refreshMs ?? 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    const client = this.client;
    this.client = undefined;
    this.connecting = undefined;
    await client?.close().catch(() => undefined);
  }

  /** Re-read the server's tool list (every page) and publish it. */
  async refresh(): Promise<ToolDefinition[]> {
    const client = await this.connected();
    const infos: McpToolInfo[] = [];
    let cursor: string | undefined;
    try {
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: this.server.timeoutMs });
        infos.push(...(page.tools as McpToolInfo[]));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    } catch (err) {
      if (isUnreachable(err)) await this.reset();
      throw err;
    }
    const allow = this.server.allowTools === undefined ? undefined : new Set(this.server.allowTools);
    this.tools = infos.filter((t) => allow === undefined || allow.has(t.name)).map((t) => mcpToolDefinition(this.server, t, (name, args, ctx) => this.call(name, args, ctx)));
    this.options.logger.info('mcp.tools_listed', { server: this.server.name, tools: this.tools.map((t) => t.name) });
    for (const listener of this.listeners) listener(this.tools);
    return this.tools;
  }

  /** Call one tool; see the class comment for what the errors become. */
  async call(tool: string, args: unknown, ctx: ToolContext): Promise<ToolResult> {
    let client: Client;
    try {
      client = await this.connected();
    } catch (err) {
      throw new McpServerUnavailableError(this.server.name, err);
    }
    try {
      const res = await client.callTool(
        { name: tool, arguments: (args ?? {}) as Record<string, unknown>, _meta: { 'openclaw/idempotencyKey': ctx.idempotencyKey, 'openclaw/fence': ctx.fence } },
        undefined,
        { signal: ctx.signal, timeout: this.server.timeoutMs },
      );
      return toToolResult(res as { content?: unknown; structuredContent?: unknown; isError?: unknown });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
        return { content: `MCP tool ${this.server.name}/${tool} timed out after ${this.server.timeoutMs} ms; its outcome is unknown`, isError: true };
      }
      if (isUnreachable(err)) {
        await this.reset();
        throw new McpServerUnavailableError(this.server.name, err);
      }
      return { content: `MCP tool ${this.server.name}/${tool} failed: ${errorMessage(err)}`, isError: true };
    }
  }

  private async reset(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connecting = undefined;
    await client?.close().catch(() => undefined);
  }

  private connected(): Promise<Client> {
    if (this.client !== undefined) return Promise.resolve(this.client);
    // One retry: the first request after a server restart can land on a pooled socket it closed.
    this.connecting ??= this.connect().catch((err: unknown) => (isUnreachable(err) ? this.connect() : Promise.reject(err))).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<Client> {
    const token = await this.options.token?.();
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const transport = new StreamableHTTPClientTransport(new URL(this.server.url), {
      requestInit: { headers },
      ...(this.options.fetch !== undefined ? { fetch: this.options.fetch } : {}),
    });
    const client = new Client({ name: 'openclaw-worker', version: '1' }, { capabilities: {} });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      void this.refresh().catch(() => undefined);
    });
    try {
      await client.connect(transport, { timeout: this.server.timeoutMs });
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }
}

/** An MCP call result as the model's tool result: text parts joined, other parts as JSON. */
function toToolResult(res: { content?: unknown; structuredContent?: unknown; isError?: unknown }): ToolResult {
  const parts = Array.isArray(res.content) ? (res.content as { type?: string; text?: string }[]) : [];
  const text = parts.map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : JSON.stringify(p))).join('\n');
  const content = text !== '' ? text : res.structuredContent !== undefined ? JSON.stringify(res.structuredContent) : '';
  return { content, isError: res.isError === true };
}
