import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkHealth, resolvePort, resolveRole } from '../../runtime/src/healthcheck';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

describe('resolveRole', () => {
  it('takes the argument first', () => {
    expect(resolveRole({ arg: 'worker', env: { OPENCLAW_ROLE: 'gateway' }, pid1Cmdline: 'node\0dist/intake.js' })).toBe('worker');
  });

  it('then OPENCLAW_ROLE', () => {
    expect(resolveRole({ env: { OPENCLAW_ROLE: 'gateway' }, pid1Cmdline: 'node\0dist/intake.js' })).toBe('gateway');
  });

  it.each([
    ['tini as PID 1 running the worker', '/usr/bin/tini\0--\0node\0dist/worker.js\0'],
    ['node as PID 1 with an absolute path', 'node\0/app/dist/gateway.js'],
    ['the default intake command', '/usr/bin/tini\0--\0node\0dist/intake.js'],
  ])('then the role in PID 1 command line (%s)', (_case, cmdline) => {
    expect(resolveRole({ env: {}, pid1Cmdline: cmdline })).toBe(/dist\/(\w+)\.js/.exec(cmdline)?.[1]);
  });

  it('does not mistake the health check itself for a role', () => {
    expect(() => resolveRole({ env: {}, pid1Cmdline: 'node\0dist/healthcheck.js' })).toThrow(/pass the role/);
  });

  it('rejects an unknown role with the list of valid ones', () => {
    expect(() => resolveRole({ arg: 'scheduler', env: {} })).toThrow('Unknown role "scheduler": pass one of intake, worker, gateway');
    expect(() => resolveRole({ env: { OPENCLAW_ROLE: 'db' } })).toThrow('OPENCLAW_ROLE="db" is not a role');
  });
});

describe('resolvePort', () => {
  it.each([
    ['intake', 8080],
    ['worker', 8081],
    ['gateway', 8090],
  ] as const)('defaults %s to %d, the port the service listens on', (role, port) => {
    expect(resolvePort(role, {})).toBe(port);
  });

  it('follows PORT like the service does', () => {
    expect(resolvePort('worker', { PORT: '9000' })).toBe(9000);
  });

  it.each(['0', 'abc', '70000'])('rejects PORT=%s with a fix', (raw) => {
    expect(() => resolvePort('intake', { PORT: raw })).toThrow(`PORT="${raw}" is not a usable port`);
  });
});

describe('checkHealth against a real HTTP server', () => {
  it('is healthy on 200 from /health', async () => {
    const paths: string[] = [];
    const { server, port } = await serve((req, res) => {
      paths.push(req.url ?? '');
      res.end('{"status":"ok"}');
    });
    try {
      await expect(checkHealth({ port })).resolves.toEqual({ healthy: true, detail: `http://127.0.0.1:${port}/health answered 200` });
      expect(paths).toEqual(['/health']);
    } finally {
      await close(server);
    }
  });

  it('is unhealthy on 503 (a stalled worker)', async () => {
    const { server, port } = await serve((_req, res) => {
      res.statusCode = 503;
      res.end('{"status":"stalled"}');
    });
    try {
      await expect(checkHealth({ port })).resolves.toMatchObject({ healthy: false, detail: expect.stringContaining('answered 503') });
    } finally {
      await close(server);
    }
  });

  it('is unhealthy when the service hangs past the timeout', async () => {
    const { server, port } = await serve(() => undefined);
    try {
      const result = await checkHealth({ port, timeoutMs: 200 });
      expect(result.healthy).toBe(false);
      expect(result.detail).toMatch(/unreachable \((TimeoutError|AbortError)/);
    } finally {
      await close(server);
    }
  });

  it('is unhealthy when nothing listens', async () => {
    const { server, port } = await serve(() => undefined);
    await close(server);
    await expect(checkHealth({ port })).resolves.toMatchObject({ healthy: false, detail: expect.stringContaining('unreachable') });
  });
});
