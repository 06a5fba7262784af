import { Template } from 'aws-cdk-lib/assertions';
import { STAGE_CONFIGS } from '../../lib/config/stages';
import { loadStageConfig } from '../../lib/config';
import { OpenClawStage } from '../../lib/openclaw-stage';
import { ENV } from '../../runtime/src/shared/config';
import { parseMcpServersJson } from '../../runtime/src/shared/mcp-servers';
import { TEST_DIGEST, testApp } from './support/synth-stage';

const AUTH = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:mcp-docs-token-AbCdEf';
const servers = [
  { name: 'docs', url: 'https://mcp.docs.example.com/mcp', authSecretArn: AUTH, allowTools: ['search'] },
  { name: 'crm', url: 'http://10.20.30.40:8931/mcp' },
];

function workerTemplate(mcpServers: unknown): { template: Template; json: Record<string, any> } {
  const dev = STAGE_CONFIGS.dev;
  const services = { ...dev.services, worker: { ...dev.services.worker, mcpServers } };
  const config = loadStageConfig('dev', { ...STAGE_CONFIGS, dev: { ...dev, services } as typeof dev });
  const app = testApp({ imageDigest: TEST_DIGEST });
  const stage = new OpenClawStage(app, 'dev', { config, imageDigest: TEST_DIGEST });
  const json = app.synth().getStackArtifact(stage.services.artifactId).template as Record<string, any>;
  return { template: Template.fromJSON(json), json };
}

const workerSgEgress = (json: Record<string, any>): any[] => {
  const sg = Object.entries(json['Resources'] as Record<string, any>).find(([id, r]) => r.Type === 'AWS::EC2::SecurityGroup' && /WorkerTaskSg/.test(id));
  if (sg === undefined) throw new Error('no worker security group');
  return (sg[1].Properties.SecurityGroupEgress ?? []) as any[];
};

describe('MCP servers in the stage configuration', () => {
  const { json } = workerTemplate(servers);

  it('GIVEN two MCP servers THEN the worker gets MCP_SERVERS, which the runtime parses back to the same servers', () => {
    const defs = Object.values(json['Resources'] as Record<string, any>).filter((r) => r.Type === 'AWS::ECS::TaskDefinition');
    const env = defs.flatMap((d) => d.Properties.ContainerDefinitions as any[]).flatMap((c) => (c.Environment ?? []) as { Name: string; Value: unknown }[]);
    const value = env.find((e) => e.Name === ENV.mcpServers)?.Value;
    expect(typeof value).toBe('string');
    expect(parseMcpServersJson(value as string).map((s) => [s.name, s.url])).toEqual(servers.map((s) => [s.name, s.url]));
  });

  it('THEN egress opens exactly each server\'s port: the address when the URL names one, any address for a hostname', () => {
    const egress = workerSgEgress(json).filter((r) => typeof r.Description === 'string' && r.Description.startsWith('MCP server'));
    expect(egress.map((r) => ({ cidr: r.CidrIp ?? r.CidrIpv6, port: r.FromPort, to: r.ToPort })).sort((a, b) => (String(a.cidr) < String(b.cidr) ? -1 : 1))).toEqual([
      { cidr: '0.0.0.0/0', port: 443, to: 443 },
      { cidr: '10.20.30.40/32', port: 8931, to: 8931 },
      { cidr: '::/0', port: 443, to: 443 },
    ]);
  });

  it('THEN the worker role may read the auth secret of the server that has one, and only that one', () => {
    const policies = Object.values(json['Resources'] as Record<string, any>).filter((r) => r.Type === 'AWS::IAM::Policy');
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    const onAuth = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify(AUTH));
    expect(onAuth).toHaveLength(1);
    expect(onAuth[0].Action).toBe('secretsmanager:GetSecretValue');
  });

  it('GIVEN no MCP servers THEN no MCP egress and no MCP_SERVERS', () => {
    const { json: plain } = workerTemplate(undefined);
    expect(workerSgEgress(plain).filter((r) => String(r.Description).startsWith('MCP server'))).toEqual([]);
    expect(JSON.stringify(plain)).not.toContain(ENV.mcpServers);
  });

  it('GIVEN a bad MCP server entry THEN synth fails naming the key and the fix', () => {
    expect(() => workerTemplate([{ name: 'docs', url: 'ftp://x' }])).toThrow(/services\.worker\.mcpServers\.0\.url.*http\(s\) URL/s);
  });
});
