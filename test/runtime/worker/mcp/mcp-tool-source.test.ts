import { silentLogger } from '../../../../runtime/src/shared/logger';
import { parseMcpServers, parseMcpServersJson, type McpServerConfig } from '../../../../runtime/src/shared/mcp-servers';
import { ProviderWeatherError } from '../../../../runtime/src/worker/provider-weather';
import { McpServerUnavailableError, McpToolSource } from '../../../../runtime/src/worker/mcp/mcp-tool-source';
import { mcpRisk } from '../../../../runtime/src/worker/mcp/mcp-tools';
import { ToolRegistry, type ToolContext } from '../../../../runtime/src/worker/tool-registry';
import { eventually } from '../../../support/aws';
import { startMcpTestServer, type McpTestServer } from '../../../support/mcp-test-server';

const ctx = (key: string, signal = new AbortController().signal): ToolContext => ({ taskId: 't1', idempotencyKey: key, fence: 3, signal });
const config = (url: string, extra: Partial<McpServerConfig> = {}): McpServerConfig => parseMcpServers([{ name: 'docs', url, ...extra }])[0] as McpServerConfig;

let server: McpTestServer;
const sources: McpToolSource[] = [];
const source = (cfg: McpServerConfig): McpToolSource => {
  const s = new McpToolSource({ server: cfg, logger: silentLogger, refreshMs: 600_000 });
  sources.push(s);
  return s;
};

beforeEach(async () => {
  server = await startMcpTestServer({ slowMs: 1000 });
});
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
  await server.close();
});

describe('MCP annotations map onto the project risk classes', () => {
  it.each([
    [{ readOnlyHint: true }, 'requires_approval', 'read_only'],
    [{ readOnlyHint: false, destructiveHint: false }, 'requires_approval', 'side_effecting'],
    [{ readOnlyHint: false, destructiveHint: true }, 'requires_approval', 'requires_approval'],
    [undefined, 'requires_approval', 'requires_approval'],
    [{ destructiveHint: true }, 'side_effecting', 'side_effecting'],
  ] as const)('annotations %j with destructive=%s -> %s', (annotations, destructive, risk) => {
    expect(mcpRisk(annotations, destructive)).toBe(risk);
  });
});

describe('MCP_SERVERS validation', () => {
  it('names the entry, the key and the fix', () => {
    expect(() => parseMcpServersJson('[{"name":"docs","url":"ftp://x"}]')).toThrow(/MCP_SERVERS is invalid: .*url.*http\(s\) URL/);
    expect(() => parseMcpServersJson('[{"name":"a","url":"http://h/mcp"},{"name":"a","url":"http://g/mcp"}]')).toThrow(/"a" is used twice/);
    expect(() => parseMcpServersJson('not json')).toThrow(/not valid JSON/);
    expect(parseMcpServersJson(undefined)).toEqual([]);
  });
});

describe('McpToolSource against a real MCP server (Streamable HTTP)', () => {
  it('lists the tools, prefixed, with risks and JSON Schemas from the server; the allowlist filters them', async () => {
    const tools = await source(config(server.url)).refresh();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual(['docs__drop_table', 'docs__lookup', 'docs__send_message', 'docs__slow']);
    expect(byName.get('docs__lookup')?.risk).toBe('read_only');
    expect(byName.get('docs__send_message')?.risk).toBe('side_effecting');
    expect(byName.get('docs__drop_table')?.risk).toBe('requires_approval');
    const registry = new ToolRegistry(tools);
    expect(registry.specs().find((s) => s.name === 'docs__lookup')?.input_schema).toMatchObject({ type: 'object', properties: { text: { type: 'string' } }, required: ['text'] });

    const allowed = await source(config(server.url, { allowTools: ['lookup'] })).refresh();
    expect(allowed.map((t) => t.name)).toEqual(['docs__lookup']);
  });

  it('calls a tool; a side-effecting call carries the idempotency key and fence in _meta', async () => {
    const tools = new ToolRegistry(await source(config(server.url)).refresh());
    expect(await tools.execute(tools.get('docs__lookup'), { text: 'fence' }, ctx('t1/a'), 65_536)).toEqual({ content: 'definition of fence', isError: false });
    expect(await tools.execute(tools.get('docs__send_message'), { to: 'ops' }, ctx('t1/toolu_1'), 65_536)).toEqual({ content: 'sent to ops', isError: false });
    expect(server.sent).toEqual([{ to: 'ops', idempotencyKey: 't1/toolu_1', fence: 3 }]);
    // Invalid input never reaches the server.
    expect((await tools.execute(tools.get('docs__lookup'), { text: 42 }, ctx('t1/b'), 65_536)).isError).toBe(true);
    expect(server.calls).toEqual(['lookup', 'send_message']);
  });

  it('a server that changes its tool list: the registry follows (tools/list_changed)', async () => {
    const s = source(config(server.url));
    const registry = new ToolRegistry();
    s.listen((tools) => registry.replaceGroup('docs__', tools));
    await s.refresh();
    expect(registry.has('docs__added_later')).toBe(false);
    server.addTool('added_later');
    await eventually(async () => (registry.has('docs__added_later') ? true : undefined), 'the added tool in the registry', 10_000);
    expect(await registry.execute(registry.get('docs__added_later'), { text: 'x' }, ctx('t1/c'), 65_536)).toEqual({ content: 'added_later: x', isError: false });
  });

  it('a tool that times out is an error result saying so, and the source still works after', async () => {
    const tools = new ToolRegistry(await source(config(server.url, { timeoutMs: 300 })).refresh());
    const out = await tools.execute(tools.get('docs__slow'), { text: 'x' }, ctx('t1/d'), 65_536);
    expect(out).toEqual({ content: 'MCP tool docs/slow timed out after 300 ms; its outcome is unknown', isError: true });
    expect((await tools.execute(tools.get('docs__lookup'), { text: 'y' }, ctx('t1/e'), 65_536)).content).toBe('definition of y');
  });

  it('a server that is down is weather (hand the task back), and the source reconnects when it is back', async () => {
    const s = source(config(server.url));
    const tools = new ToolRegistry(await s.refresh());
    await server.close();
    const err = await tools.execute(tools.get('docs__lookup'), { text: 'x' }, ctx('t1/f'), 65_536).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpServerUnavailableError);
    expect(err).toBeInstanceOf(ProviderWeatherError);
    await server.restart();
    expect((await tools.execute(tools.get('docs__lookup'), { text: 'z' }, ctx('t1/g'), 65_536)).content).toBe('definition of z');
  });
});
