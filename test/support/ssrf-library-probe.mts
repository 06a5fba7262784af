/**
 * What request-filtering-agent would do with each case, without opening a socket: the library is
 * ESM-only (jest cannot load it), so its tests run this with tsx. The agent's own `createConnection`
 * validates an IP-literal host itself and a name through the lookup it wraps; below it, where
 * http.Agent would connect, this probe only reports whether the agent let the address through.
 *
 * Input (argv[2]): JSON [{ id, url, answers }]; output (stdout): JSON { [id]: 'blocked' | 'allowed' }.
 */
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { RequestFilteringHttpsAgent } from 'request-filtering-agent';

interface Case {
  readonly id: string;
  readonly url: string;
  readonly answers: readonly string[];
}
type Listener = (err: Error | null) => void;
type Connect = (options: { host: string; lookup: LookupFunction }, listener: Listener) => unknown;

// Stand in for https.Agent's connect, which the agent calls through `super` after its own checks
// (this process does nothing else, so replacing it here touches no other code).
Object.assign(https.Agent.prototype, {
  createConnection(options: { host: string; lookup: LookupFunction }, listener: Listener) {
    if (isIP(options.host) !== 0) return listener(null);
    options.lookup(options.host, { all: true }, (err) => listener(err));
    return undefined;
  },
});

function verdict(agent: RequestFilteringHttpsAgent, c: Case): Promise<'blocked' | 'allowed'> {
  const host = new URL(c.url).hostname.replace(/^\[|\]$/g, '');
  const lookup = ((_name: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (c.answers.length === 0) return callback(Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
    if (options.all === true) return callback(null, c.answers.map((address) => ({ address, family: isIP(address) })));
    return callback(null, c.answers[0], isIP(c.answers[0] ?? ''));
  }) as unknown as LookupFunction;
  return new Promise((resolve) => {
    (agent.createConnection as unknown as Connect).call(agent, { host, lookup }, (err) => resolve(err === null ? 'allowed' : 'blocked'));
  });
}

const cases = JSON.parse(process.argv[2] ?? '[]') as Case[];
const agent = new RequestFilteringHttpsAgent();
const out: Record<string, string> = {};
for (const c of cases) out[c.id] = await verdict(agent, c);
process.stdout.write(JSON.stringify(out));
