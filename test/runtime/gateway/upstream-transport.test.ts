import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpTransport } from '../../../runtime/src/gateway/upstream-transport';

async function readAll(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

describe('httpTransport: the gateway upstream over node:http', () => {
  let server: Server;
  let url: URL;
  let connections = 0;
  const seen: { headers: Record<string, unknown>; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ headers: { ...req.headers }, body: Buffer.concat(chunks).toString('utf8') });
        if (req.url === '/hang') return; // never answers
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.writeHead(201, { 'content-type': 'application/json', 'anthropic-ratelimit-requests-remaining': '7' });
        res.end('{"ok":true}');
      });
    });
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/messages`);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('GIVEN sequential calls THEN they share one pooled connection, and status, headers and body come through', async () => {
    const transport = httpTransport();
    const before = connections;
    for (let i = 0; i < 20; i += 1) {
      const res = await transport(url, { headers: { 'content-type': 'application/json', 'x-api-key': 'k' }, body: Buffer.from(`{"i":${i}}`), signal: new AbortController().signal });
      expect(res.status).toBe(201);
      expect(res.headers.get('Anthropic-Ratelimit-Requests-Remaining')).toBe('7');
      expect(res.headers.get('absent')).toBeNull();
      const names: string[] = [];
      res.headers.forEach((_v, name) => names.push(name));
      expect(names).toEqual(expect.arrayContaining(['content-type', 'set-cookie']));
      expect(await readAll(res.body)).toBe('{"ok":true}');
    }
    expect(connections - before).toBe(1);
    expect(seen.at(-1)).toMatchObject({ body: '{"i":19}', headers: { 'x-api-key': 'k', 'content-length': '8', connection: 'keep-alive' } });
  });

  it('GIVEN a call that never answers WHEN its signal aborts THEN the call fails with the reason', async () => {
    const transport = httpTransport();
    const abort = new AbortController();
    const pending = transport(new URL('/hang', url), { headers: {}, body: Buffer.from('{}'), signal: abort.signal });
    setTimeout(() => abort.abort(new Error('upstream timeout')), 50);
    await expect(pending).rejects.toThrow();
  });
});
