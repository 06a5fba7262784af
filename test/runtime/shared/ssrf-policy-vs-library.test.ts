import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CallbackUrlPolicy, isPrivateAddress } from '../../../runtime/src/shared/callback-url-policy';

type Verdict = 'blocked' | 'allowed';

interface Case {
  readonly id: string;
  readonly url: string;
  /** What the name resolves to (empty for an IP literal, or a name that does not resolve). */
  readonly answers: readonly string[];
  /** What the project's policy must answer. */
  readonly ours: Verdict;
}

const literal = (id: string, host: string, ours: Verdict): Case => ({ id, url: `https://${host}/hook`, answers: [], ours });
const named = (id: string, answers: readonly string[], ours: Verdict): Case => ({ id, url: `https://${id.replace(/[^a-z0-9]+/gi, '-')}.example.com/hook`, answers, ours });

/** One table for both: IPv4, IPv6, IPv4 inside IPv6, odd spellings of loopback, and DNS answers. */
const CASES: readonly Case[] = [
  // IPv4 literals
  literal('v4 loopback', '127.0.0.1', 'blocked'),
  literal('v4 loopback elsewhere in 127/8', '127.200.0.9', 'blocked'),
  literal('v4 private 10/8', '10.0.0.8', 'blocked'),
  literal('v4 private 172.16/12', '172.31.255.1', 'blocked'),
  literal('v4 private 192.168/16', '192.168.1.1', 'blocked'),
  literal('v4 metadata service', '169.254.169.254', 'blocked'),
  literal('v4 ECS task metadata', '169.254.170.2', 'blocked'),
  literal('v4 carrier-grade NAT', '100.64.0.1', 'blocked'),
  literal('v4 unspecified', '0.0.0.0', 'blocked'),
  literal('v4 broadcast', '255.255.255.255', 'blocked'),
  literal('v4 multicast', '224.0.0.1', 'blocked'),
  literal('v4 benchmarking', '198.18.0.1', 'blocked'),
  literal('v4 documentation', '203.0.113.7', 'blocked'),
  literal('v4 AS112', '192.175.48.1', 'blocked'),
  literal('v4 AMT', '192.52.193.1', 'blocked'),
  literal('v4 future use', '240.0.0.1', 'blocked'),
  literal('v4 public', '93.184.216.34', 'allowed'),
  literal('v4 public resolver', '1.1.1.1', 'allowed'),
  // Loopback spelled as the URL parser also accepts it
  literal('decimal loopback', '2130706433', 'blocked'),
  literal('octal loopback', '0177.0.0.1', 'blocked'),
  literal('hex loopback', '0x7f.0.0.1', 'blocked'),
  literal('short loopback', '127.1', 'blocked'),
  literal('zero host', '0', 'blocked'),
  literal('decimal metadata service', '2852039166', 'blocked'),
  // IPv6 literals
  literal('v6 loopback', '[::1]', 'blocked'),
  literal('v6 unspecified', '[::]', 'blocked'),
  literal('v6 link-local', '[fe80::1]', 'blocked'),
  literal('v6 unique local', '[fc00::1]', 'blocked'),
  literal('v6 EC2 metadata service', '[fd00:ec2::254]', 'blocked'),
  literal('v6 multicast', '[ff02::1]', 'blocked'),
  literal('v6 documentation', '[2001:db8::1]', 'blocked'),
  literal('v6 discard', '[100::1]', 'blocked'),
  literal('v6 site-local', '[fec0::1]', 'blocked'),
  literal('v6 Teredo', '[2001:0:4136:e378:8000:63bf:3fff:fdd2]', 'blocked'),
  literal('v6 ORCHIDv2', '[2001:20::1]', 'blocked'),
  literal('v6 public', '[2606:4700:4700::1111]', 'allowed'),
  // IPv4 carried in IPv6
  literal('mapped loopback', '[::ffff:127.0.0.1]', 'blocked'),
  literal('mapped loopback in hex', '[::ffff:7f00:1]', 'blocked'),
  literal('mapped metadata service', '[::ffff:a9fe:a9fe]', 'blocked'),
  literal('mapped, spelled out', '[0:0:0:0:0:ffff:127.0.0.1]', 'blocked'),
  literal('mapped public', '[::ffff:8.8.8.8]', 'blocked'),
  literal('translated (SIIT)', '[::ffff:0:7f00:1]', 'blocked'),
  literal('IPv4-compatible loopback', '[::127.0.0.1]', 'blocked'),
  literal('IPv4-compatible public', '[::8.8.8.8]', 'blocked'),
  literal('NAT64 metadata service', '[64:ff9b::a9fe:a9fe]', 'blocked'),
  literal('NAT64 public', '[64:ff9b::808:808]', 'blocked'),
  literal('NAT64 local-use prefix', '[64:ff9b:1::a9fe:a9fe]', 'blocked'),
  literal('6to4 of loopback', '[2002:7f00:1::1]', 'blocked'),
  // Names (DNS answers), including the rebinding shape: one answer private among public ones
  named('resolves to loopback', ['127.0.0.1'], 'blocked'),
  named('resolves to metadata service', ['169.254.169.254'], 'blocked'),
  named('resolves to v6 loopback', ['::1'], 'blocked'),
  named('resolves to mapped loopback', ['::ffff:127.0.0.1'], 'blocked'),
  named('resolves to NAT64 metadata', ['64:ff9b::a9fe:a9fe'], 'blocked'),
  named('rebinding mixed answers', ['93.184.216.34', '10.0.0.1'], 'blocked'),
  named('rebinding private first', ['127.0.0.1', '93.184.216.34'], 'blocked'),
  named('does not resolve', [], 'blocked'),
  named('resolves public v4', ['93.184.216.34'], 'allowed'),
  named('resolves public v6', ['2606:4700:4700::1111'], 'allowed'),
];

/** request-filtering-agent's verdicts, from a child process (the package is ESM-only). */
function libraryVerdicts(cases: readonly Case[]): Record<string, Verdict> {
  const root = join(__dirname, '../../..');
  const out = execFileSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'test/support/ssrf-library-probe.mts'), JSON.stringify(cases)], { encoding: 'utf8' });
  return JSON.parse(out) as Record<string, Verdict>;
}

async function ourVerdict(c: Case): Promise<Verdict> {
  const policy = new CallbackUrlPolicy({
    resolver: async () => {
      if (c.answers.length === 0) throw new Error('ENOTFOUND');
      return c.answers;
    },
  });
  return policy.check(c.url).then(
    (checked) => (isPrivateAddress(checked.address) ? 'blocked' : 'allowed'),
    () => 'blocked',
  );
}

describe('the SSRF policy against request-filtering-agent, on one table', () => {
  const library = libraryVerdicts(CASES);

  it.each(CASES.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const ours = await ourVerdict(c);
    expect(ours).toBe(c.ours);
    // At least as strict: whatever the library blocks, the policy blocks.
    if (library[c.id] === 'blocked') expect(ours).toBe('blocked');
  });

  it('GIVEN the table THEN the library was consulted for every case and both let public targets through', () => {
    expect(Object.keys(library).sort()).toEqual(CASES.map((c) => c.id).sort());
    const publicIds = CASES.filter((c) => c.ours === 'allowed').map((c) => c.id);
    expect(publicIds.length).toBeGreaterThan(3);
    for (const id of publicIds) expect(library[id]).toBe('allowed');
  });

  it('GIVEN a name that rebinds to a private address after the check THEN delivery keeps the checked address and the next check refuses', async () => {
    const answers = [['93.184.216.34'], ['169.254.169.254']];
    const policy = new CallbackUrlPolicy({ resolver: async () => answers.shift() ?? [] });
    const first = await policy.check('https://rebind.example.com/hook');
    expect(first.address).toBe('93.184.216.34');
    await expect(policy.check('https://rebind.example.com/hook')).rejects.toThrow(/resolves to a private.*169\.254\.169\.254/);
  });
});
