import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { createLogger } from '../../../runtime/src/shared/logger';
import { startIntake, type IntakeHarness } from './harness';

/** Seeded PRNG (mulberry32), so a failing case can be replayed from the printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FuzzCase {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

const TOTAL = 10_000;
const CONCURRENCY = 32;

function generator(random: () => number, token: string) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const weird: unknown[] = [null, true, false, 0, -1, 1e308, -0, '', ' ', '\u0000', '\ud800', 'x'.repeat(5000), [], {}, [[[]]], { a: { b: {} } }, 'high', 'https://169.254.169.254/'];
  const deep = (depth: number, open: string, close: string) => `${open.repeat(depth)}${close.repeat(depth)}`;
  const valid = (): Record<string, unknown> => ({ prompt: 'fuzz', priority: 'normal', metadata: { a: 'b' } });

  const bodies: (() => Buffer)[] = [
    () => bytes(int(2048)),
    () => Buffer.from(JSON.stringify(pick(weird))),
    () => {
      // A valid body with one field replaced by something of the wrong type.
      const b = valid();
      b[pick(['prompt', 'priority', 'metadata', 'callbackUrl', 'input', '__proto__', 'constructor'])] = pick(weird);
      return Buffer.from(JSON.stringify(b));
    },
    () => Buffer.from(JSON.stringify({ prompt: 'x'.repeat(int(400_000)) })),
    () => Buffer.concat([Buffer.from('{"prompt":"'), bytes(int(64)).map((b) => b | 0x80), Buffer.from('"}')]),
    () => Buffer.from(`{"prompt":"a","metadata":${deep(int(20_000) + 1, '[', ']')}}`),
    () => Buffer.from(`{"input":{"instructions":"x","data":${deep(int(20_000) + 1, '{"a":', '}').replace(/}$/, '1}')}}}`),
    () => Buffer.from(`{"prompt":"a","metadata":{${Array.from({ length: int(5000) }, (_, i) => `"k${i}":"v"`).join(',')}}}`),
    () => Buffer.from(JSON.stringify({ prompt: 'a', callbackUrl: pick(['https://[::1]/', 'https://0/', 'ftp://x/', 'https://a'.padEnd(5000, 'a'), 'https://user:pw@x.y/', '//x']) })),
    () => Buffer.from(JSON.stringify(valid()).slice(0, int(40))),
    () => Buffer.from('{"prompt":"a"'.repeat(int(100))),
  ];

  return (): FuzzCase => {
    const roll = random();
    const auth = roll < 0.9 ? { authorization: `Bearer ${token}` } : pick([{}, { authorization: `Bearer ${bytes(8).toString('hex')}` }, { authorization: 'Bearer' }, { authorization: `Basic ${token}` }]);
    const contentType = random() < 0.85 ? 'application/json' : pick(['text/plain', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', '', 'application/jsonx']);
    const extra: Record<string, string> = random() < 0.2 ? { 'idempotency-key': pick(['k', ' ', 'x'.repeat(300), `fz-${int(50)}`]) } : {};
    if (roll > 0.97) {
      return { method: pick(['GET', 'DELETE', 'PUT', 'PATCH']), path: pick(['/v1/tasks/', `/v1/tasks/${bytes(4).toString('hex')}`, '/v1/tasks/%00', '/v1/tasks/../../etc', `/${'a/'.repeat(200)}`, '/v1/tasks?x=1']), headers: { ...auth, ...extra } };
    }
    return { method: 'POST', path: random() < 0.95 ? '/v1/tasks' : '/v1/tasks?debug=1', headers: { ...auth, 'content-type': contentType, ...extra }, body: (pick(bodies))() };
  };
}

/** One request on a keep-alive agent (node:http is several times cheaper per request than fetch). */
function send(agent: Agent, port: number, c: FuzzCase): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: c.method, path: c.path, headers: c.headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(c.body);
  });
}

/** Raw bytes on a socket: malformed HTTP the fetch client would never send. */
function rawRequest(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(payload));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(answer));
    socket.setTimeout(5000, () => socket.destroy());
  });
}

describe('intake fuzz: malformed requests never cause a 5xx or a crash', () => {
  let h: IntakeHarness;
  const unhandled: string[] = [];

  beforeAll(async () => {
    h = await startIntake({
      logger: createLogger({}, { write: (line) => void (line.includes('"http.unhandled"') && unhandled.push(line)) }),
    });
  });
  afterAll(async () => h.close());

  it(`GIVEN ${TOTAL} random malformed requests THEN every answer is below 500 and the server stays healthy`, async () => {
    const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1_000_000);
    const next = generator(prng(seed), h.keys.standard.token);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let issued = 0;
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const worker = async () => {
      while (issued < TOTAL) {
        issued += 1;
        const c = next();
        try {
          const status = await send(agent, h.server.port, c);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status >= 500) failures.push(`${c.method} ${c.path} -> ${status}`);
        } catch (err) {
          // A 413 answered before the upload finished can reset the socket: that is the server refusing, not failing.
          const code = (err as { code?: string }).code ?? String(err);
          statuses.set(-1, (statuses.get(-1) ?? 0) + 1);
          if (!['ECONNRESET', 'EPIPE'].includes(code)) failures.push(`${c.method} ${c.path} -> ${code}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();

    const raw = await Promise.all([
      rawRequest(h.server.port, 'POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
      rawRequest(h.server.port, 'GARBAGE\r\n\r\n'),
      rawRequest(h.server.port, `POST /v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.keys.standard.token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":`),
    ]);

    process.stdout.write(`fuzz seed=${seed} statuses=${JSON.stringify(Object.fromEntries(statuses))}\n`);
    expect(failures).toEqual([]);
    expect(unhandled).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(TOTAL);
    // Malformed HTTP gets the parser's 400 (or a close), never a 5xx.
    for (const answer of raw) expect(answer).not.toMatch(/^HTTP\/1\.1 5/);
    expect((await fetch(`${h.url}/health`)).status).toBe(200);
    expect((await h.call('/v1/tasks', { body: { prompt: 'still works' } })).status).toBe(202);
  }, 170_000);
});
