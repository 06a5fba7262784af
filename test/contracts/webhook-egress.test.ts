/**
 * Webhooks: the template and the runtime agree. The worker sends completion webhooks; its security
 * group is read from the synthesized prod template, and the runtime's CallbackUrlPolicy (the SSRF
 * policy enforced in code at submission and again at every delivery attempt) must accept exactly
 * the internet destinations that group lets out, and still refuse the private ones it also lets out.
 */
import { CallbackUrlPolicy, WEBHOOK_PORT } from '../../runtime/src/shared/callback-url-policy';
import { resourcesOf, synthStage } from '../lib/support/synth-stage';

const prod = synthStage('prod');

interface EgressRule {
  readonly IpProtocol: string;
  readonly FromPort?: number;
  readonly ToPort?: number;
  readonly CidrIp?: string;
  readonly CidrIpv6?: string;
}

function workerEgress(): EgressRule[] {
  const groups = resourcesOf(prod.json.services, 'AWS::EC2::SecurityGroup').filter(([id]) => id.startsWith('WorkerTaskSg'));
  expect(groups).toHaveLength(1);
  return (groups[0]?.[1]['SecurityGroupEgress'] ?? []) as EgressRule[];
}

/** Rules that reach the internet (any address), by family. */
const internetRules = () => workerEgress().filter((r) => r.CidrIp === '0.0.0.0/0' || r.CidrIpv6 === '::/0');

/** A resolver for names that must not touch DNS in a test: public for example.com, else what the case says. */
const resolverFor = (addresses: Record<string, readonly string[]>) => async (host: string) => addresses[host] ?? ['93.184.215.14'];

describe('webhook egress: worker security group (prod template) vs CallbackUrlPolicy', () => {
  test('GIVEN the worker security group WHEN read THEN HTTPS on the webhook port reaches the internet over IPv4 and IPv6, and nothing else does', () => {
    const rules = internetRules();
    expect(rules.map((r) => ({ proto: r.IpProtocol, from: r.FromPort, to: r.ToPort, v4: r.CidrIp, v6: r.CidrIpv6 }))).toEqual(
      expect.arrayContaining([
        { proto: 'tcp', from: WEBHOOK_PORT, to: WEBHOOK_PORT, v4: '0.0.0.0/0', v6: undefined },
        { proto: 'tcp', from: WEBHOOK_PORT, to: WEBHOOK_PORT, v4: undefined, v6: '::/0' },
      ]),
    );
    expect(rules).toHaveLength(2);
  });

  test('GIVEN the tasks subnets WHEN read THEN their default route goes through a NAT gateway (the only way out of a private subnet)', () => {
    const routes = resourcesOf(prod.json.network, 'AWS::EC2::Route').filter(([id]) => id.includes('tasksSubnet'));
    expect(routes.length).toBeGreaterThan(0);
    for (const [, route] of routes) {
      expect(route['DestinationCidrBlock']).toBe('0.0.0.0/0');
      expect(route['NatGatewayId']).toBeDefined();
    }
  });

  test('GIVEN every port the group opens to the internet WHEN a public https callback uses it THEN the policy accepts it; any other port is refused', async () => {
    const policy = new CallbackUrlPolicy({ resolver: resolverFor({}) });
    const open = new Set(internetRules().map((r) => r.FromPort));
    for (const port of open) {
      const url = port === 443 ? 'https://hooks.example.com/done' : `https://hooks.example.com:${port}/done`;
      await expect(policy.check(url)).resolves.toMatchObject({ address: '93.184.215.14' });
    }
    for (const port of [80, 8080, 8443, 9443, 22]) {
      expect(open.has(port)).toBe(false);
      await expect(policy.check(`https://hooks.example.com:${port}/done`)).rejects.toThrow(new RegExp(`port ${port} is not allowed`));
    }
    await expect(policy.check('http://hooks.example.com/done')).rejects.toThrow(/must use https/);
  });

  test('GIVEN destinations the group lets out (any address on 443) WHEN they are private THEN the code-level policy still refuses them', async () => {
    // An address inside this stage's own VPC, read from the template: the group cannot tell it from the internet.
    const vpc = resourcesOf(prod.json.network, 'AWS::EC2::VPC')[0]?.[1];
    const cidr = String(vpc?.['CidrBlock']);
    expect(cidr).toMatch(/^10\./);
    const inVpc = cidr.replace(/\.0\/\d+$/, '.10');
    const policy = new CallbackUrlPolicy({
      resolver: resolverFor({ 'rebind.example.com': ['93.184.215.14', inVpc], 'metadata.example.com': ['169.254.169.254'], 'v6.example.com': ['::ffff:10.0.0.1'] }),
    });
    for (const url of [
      `https://${inVpc}/hook`,
      'https://169.254.169.254/latest/meta-data/',
      'https://[fd00:ec2::254]/',
      'https://[::ffff:a9fe:a9fe]/',
      'https://rebind.example.com/hook',
      'https://metadata.example.com/hook',
      'https://v6.example.com/hook',
      'https://gateway.internal/hook',
    ]) {
      await expect(policy.check(url)).rejects.toThrow(/private|internal|link-local/);
    }
  });
});
