import type { IncomingMessage, ServerResponse } from 'node:http';
import { CallbackUrlPolicy, type CheckedCallback, type Resolver } from '../../../../runtime/src/shared/callback-url-policy';
import { listen, type RunningServer } from '../../../../runtime/src/shared/http';
import { silentLogger } from '../../../../runtime/src/shared/logger';
import { ToolRegistry, type ToolContext, type ToolResult } from '../../../../runtime/src/worker/tool-registry';
import { httpFetchTool, type HttpFetchOptions } from '../../../../runtime/src/worker/tools/http-fetch';

/** A loopback site; every request it receives is recorded, so a refusal can be shown to send nothing. */
let site: RunningServer;
const seen: { path: string; host: string }[] = [];
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/text': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('héllo');
  },
  '/json': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/problem+json' });
    res.end('{"ok":true}');
  },
  '/missing': (_req, res) => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('<h1>nope</h1>');
  },
  '/binary': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(Buffer.alloc(64));
  },
  '/huge': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    // 4 MiB, far over the cap: the tool must stop reading, not buffer it all.
    for (let i = 0; i < 64; i += 1) res.write('y'.repeat(65_536));
    res.end();
  },
  '/slow': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial');
    setTimeout(() => res.end('late'), 3000).unref();
  },
  '/hop': (_req, res) => {
    res.writeHead(302, { location: '/text' });
    res.end();
  },
  '/to-metadata': (_req, res) => {
    res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
    res.end();
  },
  '/loop': (_req, res) => {
    res.writeHead(302, { location: '/loop' });
    res.end();
  },
};

beforeAll(async () => {
  site = await listen(
    async (req, res) => {
      seen.push({ path: req.url ?? '', host: String(req.headers.host) });
      (routes[req.url ?? ''] ?? routes['/missing'])?.(req, res);
    },
    0,
    silentLogger,
    '127.0.0.1',
  );
});
afterAll(() => site.close());
beforeEach(() => {
  seen.length = 0;
});

const ctx = (): ToolContext => ({ taskId: 't', idempotencyKey: 't/toolu_1', fence: 1, signal: new AbortController().signal });
const fetchWith = async (options: HttpFetchOptions, url: string): Promise<ToolResult> => {
  const tool = httpFetchTool(options);
  return new ToolRegistry([tool]).execute(tool, { url }, ctx(), 65_536);
};
/** The test-only policy: plain http to 127.0.0.1 allowed; everything else as in production. */
const loopbackPolicy = new CallbackUrlPolicy({ allowHttpHosts: ['127.0.0.1'] });
const port = () => new URL(site.url).port;

describe('http_fetch: the default policy (the webhooks\' SSRF policy)', () => {
  it.each([
    ['plain http to loopback', () => `http://127.0.0.1:${port()}/text`, /must use https/],
    ['https to a loopback literal', () => 'https://127.0.0.1/text', /private, loopback or link-local/],
    ['https to loopback on another port', () => `https://127.0.0.1:${port()}/text`, /port \d+ is not allowed/],
    ['the metadata service', () => 'https://169.254.169.254/latest/meta-data/', /private, loopback or link-local/],
    ['an internal name', () => 'https://db.internal/', /internal name/],
    ['credentials in the URL', () => 'https://user:pw@example.com/', /must not contain credentials/],
  ])('GIVEN %s WHEN fetched THEN it is refused and nothing is sent', async (_what, url, message) => {
    const out = await fetchWith({}, url());
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/^http_fetch refused: /);
    expect(out.content).toMatch(message);
    expect(seen).toEqual([]);
  });

  it.each([['127.0.0.1'], ['10.0.0.7'], ['::ffff:169.254.169.254']])(
    'GIVEN a public-looking name that resolves to %s WHEN fetched THEN it is refused after resolution',
    async (address) => {
      const resolver: Resolver = async () => [address];
      const out = await fetchWith({ policy: new CallbackUrlPolicy({ resolver }) }, `https://innocent.example/text`);
      expect(out).toMatchObject({ isError: true, content: expect.stringContaining(`resolves to a private, loopback or link-local address (${address})`) });
      expect(seen).toEqual([]);
    },
  );
});

describe('http_fetch against a loopback server, allowed only by an injected test policy', () => {
  it('GIVEN a text page WHEN fetched THEN the model gets status, type and the decoded body', async () => {
    const out = await fetchWith({ policy: loopbackPolicy }, `${site.url}/text`);
    expect(out.isError).toBe(false);
    expect(out.content).toBe(`HTTP 200 OK\ncontent-type: text/plain; charset=utf-8\nurl: ${site.url}/text\n\nhéllo`);
  });

  it('GIVEN a +json type WHEN fetched THEN it is allowed as JSON', async () => {
    expect((await fetchWith({ policy: loopbackPolicy }, `${site.url}/json`)).content).toMatch(/\{"ok":true\}$/);
  });

  it('GIVEN a 404 WHEN fetched THEN the body comes back as an error result', async () => {
    expect(await fetchWith({ policy: loopbackPolicy }, `${site.url}/nowhere`)).toMatchObject({ isError: true, content: expect.stringMatching(/^HTTP 404/) });
  });

  it('GIVEN a content type outside the allowlist WHEN fetched THEN the body is refused', async () => {
    const out = await fetchWith({ policy: loopbackPolicy }, `${site.url}/binary`);
    expect(out).toMatchObject({ isError: true, content: expect.stringContaining('content type "application/octet-stream" is not one of text/*') });
  });

  it('GIVEN a body over the size cap WHEN fetched THEN it is cut at the cap and says so', async () => {
    const out = await fetchWith({ policy: loopbackPolicy, maxBytes: 1000 }, `${site.url}/huge`);
    expect(out.isError).toBe(false);
    expect(out.content).toMatch(/\n\ny{1000}\n\[http_fetch: body cut at 1000 bytes\]$/);
  });

  it('GIVEN a server slower than the time cap WHEN fetched THEN the call ends at the cap with an error result', async () => {
    const started = Date.now();
    const out = await fetchWith({ policy: loopbackPolicy, timeoutMs: 300 }, `${site.url}/slow`);
    expect(out).toMatchObject({ isError: true, content: expect.stringContaining('no complete answer within 300 ms') });
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('GIVEN a redirect WHEN fetched THEN it is followed and the final URL reported', async () => {
    const out = await fetchWith({ policy: loopbackPolicy }, `${site.url}/hop`);
    expect(out.content).toContain(`url: ${site.url}/text\n\nhéllo`);
    expect(seen.map((s) => s.path)).toEqual(['/hop', '/text']);
  });

  it('GIVEN a redirect to the metadata service WHEN fetched THEN the redirect is checked again and refused', async () => {
    const out = await fetchWith({ policy: loopbackPolicy }, `${site.url}/to-metadata`);
    expect(out).toMatchObject({ isError: true, content: expect.stringMatching(/^http_fetch refused: .*must use https/) });
    expect(seen.map((s) => s.path)).toEqual(['/to-metadata']);
  });

  it('GIVEN a redirect loop WHEN fetched THEN it stops after maxRedirects', async () => {
    const out = await fetchWith({ policy: loopbackPolicy, maxRedirects: 2 }, `${site.url}/loop`);
    expect(out).toMatchObject({ isError: true, content: expect.stringContaining('more than 2 redirects') });
    expect(seen).toHaveLength(3);
  });

  it('GIVEN the policy checked an address WHEN connecting THEN that address is used (no second DNS lookup) with the URL\'s Host', async () => {
    // A policy that vouches for a name no resolver knows: a connection that resolved again would fail.
    class PinnedPolicy extends CallbackUrlPolicy {
      override async check(raw: string): Promise<CheckedCallback> {
        return { url: new URL(raw), address: '127.0.0.1', family: 4 };
      }
    }
    const out = await fetchWith({ policy: new PinnedPolicy() }, `http://unresolvable.invalid:${port()}/text`);
    expect(out.isError).toBe(false);
    expect(seen).toEqual([{ path: '/text', host: `unresolvable.invalid:${port()}` }]);
  });
});
