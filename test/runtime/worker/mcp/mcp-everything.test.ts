/**
 * The worker's MCP client against the MCP project's own reference server
 * (@modelcontextprotocol/server-everything, Streamable HTTP), run as a separate process on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { silentLogger } from '../../../../runtime/src/shared/logger';
import { parseMcpServers, type McpServerConfig } from '../../../../runtime/src/shared/mcp-servers';
import { McpToolSource } from '../../../../runtime/src/worker/mcp/mcp-tool-source';
import { ToolRegistry } from '../../../../runtime/src/worker/tool-registry';
import { freePort, node22Binary, packageDir } from '../../../../tools/local/emulators';

let child: ChildProcess;
let source: McpToolSource;

beforeAll(async () => {
  const port = await freePort();
  child = spawn(node22Binary(), [join(packageDir('@modelcontextprotocol/server-everything'), 'dist', 'index.js'), 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server-everything did not start in 30 s')), 30_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      if (/listening on port/.test(chunk.toString())) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`server-everything exited with ${code}`)));
  });
  const config = parseMcpServers([{ name: 'everything', url: `http://127.0.0.1:${port}/mcp` }])[0] as McpServerConfig;
  source = new McpToolSource({ server: config, logger: silentLogger, refreshMs: 600_000 });
}, 40_000);

afterAll(async () => {
  await source?.stop();
  child?.kill('SIGTERM');
});

describe('the reference MCP server (server-everything)', () => {
  it('lists its tools with their annotations mapped, and calls echo', async () => {
    const tools = await source.refresh();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('everything__echo')?.risk).toBe('read_only');
    // Not read-only, not destructive, not idempotent: exactly-once treatment, outcome unknown after a crash.
    const toggle = byName.get('everything__toggle-simulated-logging');
    expect(toggle?.risk).toBe('side_effecting');
    expect(toggle !== undefined && 'idempotency' in toggle ? toggle.idempotency.onInterrupted : undefined).toBe('outcome_unknown');
    const registry = new ToolRegistry(tools);
    const out = await registry.execute(registry.get('everything__echo'), { message: 'hello from the worker' }, { taskId: 't', idempotencyKey: 't/u', fence: 1, signal: new AbortController().signal }, 65_536);
    expect(out.isError).toBe(false);
    expect(out.content).toContain('hello from the worker');
  });
});
