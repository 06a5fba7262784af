import { silentLogger } from '../../../../runtime/src/shared/logger';
import { parseMcpServers, type McpServerConfig } from '../../../../runtime/src/shared/mcp-servers';
import { McpToolSource } from '../../../../runtime/src/worker/mcp/mcp-tool-source';
import { eventually } from '../../../support/aws';
import { startMcpTestServer, type McpTestServer } from '../../../support/mcp-test-server';
import { createWorkerHarness, type WorkerHarness } from '../harness';

let h: WorkerHarness;
let server: McpTestServer;
let source: McpToolSource;

beforeAll(async () => {
  h = await createWorkerHarness({ visibilityTimeoutSeconds: 10, maxReceiveCount: 3 });
  server = await startMcpTestServer();
  const config = parseMcpServers([{ name: 'docs', url: server.url, allowTools: ['lookup'] }])[0] as McpServerConfig;
  source = new McpToolSource({ server: config, logger: silentLogger, refreshMs: 600_000 });
  await source.start();
  // No built-in tools: the stub model calls the one tool it is offered, the MCP server's lookup.
  await h.worker({ tools: [], toolSources: [source], weatherBackoff: { baseMs: 200, maxMs: 1000 } }).start();
}, 60_000);

afterAll(async () => {
  await h.close();
  await source.stop();
  await server.close().catch(() => undefined);
});

const finished = (taskId: string) =>
  eventually(async () => {
    const t = await h.status(taskId);
    return t !== undefined && (t.status === 'SUCCEEDED' || t.status === 'FAILED') ? t : undefined;
  }, `task ${taskId} finished`, 45_000);

describe('a worker with an MCP server as its tool source', () => {
  it('runs the model -> MCP tool -> model loop', async () => {
    const taskId = await h.submit('[tools:1] look it up');
    const task = await finished(taskId);
    expect(task.status).toBe('SUCCEEDED');
    expect(server.calls).toContain('lookup');
    const steps = await h.steps(taskId);
    expect(steps.filter((s) => s.kind === 'tool').map((s) => (s.payload as { name: string }).name)).toEqual(['docs__lookup']);
  });

  it('hands the task back while the server is down (no receive spent), and completes it when the server is back', async () => {
    await server.close();
    const taskId = await h.submit('[tools:1] look it up while the server is down');
    // The model asks for the tool, the server is down: the task is handed back, never FAILED.
    const asked = h.stub.calls.length;
    await eventually(async () => (h.stub.calls.length > asked ? true : undefined), 'the model call of the task', 20_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect((await h.status(taskId))?.status).not.toMatch(/SUCCEEDED|FAILED/);
    await server.restart();
    const task = await finished(taskId);
    expect(task.status).toBe('SUCCEEDED');
    expect(task.attempts).toBe(1);
  }, 90_000);
});
