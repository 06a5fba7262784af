/**
 * A real MCP server for the tests, on loopback, over Streamable HTTP with the official SDK's
 * server side: tools with each kind of annotation, a slow one, a side-effecting one that records
 * the idempotency key it was called with, and a tool list that the test can change.
 */
import { McpServer, type RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

export interface McpSideEffect {
  readonly to: string;
  readonly idempotencyKey: unknown;
  readonly fence: unknown;
}

export interface McpTestServer {
  readonly url: string;
  readonly port: number;
  /** Calls of `send_message` that took effect (deduplicated by idempotency key, as a keyed service would). */
  readonly sent: McpSideEffect[];
  /** Every call of any tool, in order. */
  readonly calls: string[];
  /** Add a tool to every session (sends tools/list_changed). */
  addTool(name: string): void;
  /** Stop listening (a server that is down); `restart` listens again on the same port. */
  close(): Promise<void>;
  restart(): Promise<void>;
}

export async function startMcpTestServer(options: { port?: number; slowMs?: number } = {}): Promise<McpTestServer> {
  const sent: McpSideEffect[] = [];
  const calls: string[] = [];
  const extra: string[] = [];
  const servers: { server: McpServer; added: Map<string, RegisteredTool> }[] = [];

  const addExtra = (entry: { server: McpServer; added: Map<string, RegisteredTool> }, name: string): void => {
    if (entry.added.has(name)) return;
    entry.added.set(
      name,
      entry.server.registerTool(name, { description: `Added later: ${name}`, inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } }, async ({ text }) => {
        calls.push(name);
        return { content: [{ type: 'text', text: `${name}: ${text}` }] };
      }),
    );
  };

  const build = (): McpServer => {
    const server = new McpServer({ name: 'openclaw-test-mcp', version: '1.0.0' });
    server.registerTool('lookup', { description: 'Look a word up.', inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } }, async ({ text }) => {
      calls.push('lookup');
      return { content: [{ type: 'text', text: `definition of ${text}` }] };
    });
    server.registerTool(
      'send_message',
      { description: 'Send a message.', inputSchema: { to: z.string() }, annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } },
      async ({ to }, extraInfo) => {
        calls.push('send_message');
        const meta = (extraInfo as { _meta?: Record<string, unknown> })._meta ?? {};
        const key = meta['openclaw/idempotencyKey'];
        if (!sent.some((s) => s.idempotencyKey === key)) sent.push({ to, idempotencyKey: key, fence: meta['openclaw/fence'] });
        return { content: [{ type: 'text', text: `sent to ${to}` }] };
      },
    );
    server.registerTool('drop_table', { description: 'Drop a table.', inputSchema: { table: z.string() } }, async () => {
      calls.push('drop_table');
      return { content: [{ type: 'text', text: 'dropped' }] };
    });
    server.registerTool('slow', { description: 'Takes a while.', inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } }, async ({ text }) => {
      calls.push('slow');
      await new Promise((r) => setTimeout(r, options.slowMs ?? 5000));
      return { content: [{ type: 'text', text: `slowly: ${text}` }] };
    });
    const entry = { server, added: new Map<string, RegisteredTool>() };
    for (const name of extra) addExtra(entry, name);
    servers.push(entry);
    return server;
  };

  const transports = new Map<string, StreamableHTTPServerTransport>();
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    void (async () => {
      const sid = req.headers['mcp-session-id'];
      let transport = typeof sid === 'string' ? transports.get(sid) : undefined;
      if (transport === undefined) {
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void transports.set(id, created),
        });
        transport = created;
        await build().connect(transport);
      }
      await transport.handleRequest(req, res);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  };

  let http: Server = createServer(handler);
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    sent,
    calls,
    addTool(name) {
      extra.push(name);
      for (const entry of servers) addExtra(entry, name);
    },
    async close() {
      for (const t of transports.values()) await t.close().catch(() => undefined);
      transports.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
    async restart() {
      http = createServer(handler);
      await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    },
  };
}
