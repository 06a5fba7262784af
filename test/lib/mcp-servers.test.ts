import { Template } from 'aws-cdk-lib/assertions';
import { loadStageConfig, readSiteConfig } from '../../lib/config';
import type { SiteConfig } from '../../lib/config/site-config';
import { OpenClawStage } from '../../lib/openclaw-stage';
import { ENV } from '../../runtime/src/shared/config';
import { parseAgentProfilesJson } from '../../runtime/src/shared/agent-profiles';
import { TEST_CONFIG_DIR, TEST_DIGEST, testApp } from './support/synth-stage';

const AUTH = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:mcp-docs-token-AbCdEf';
const servers = [
  { name: 'docs', url: 'https://mcp.docs.example.com/mcp', authSecretArn: AUTH, allowTools: ['search'] },
  { name: 'crm', url: 'http://10.20.30.40:8931/mcp' },
];

function workerTemplate(mcpServers: unknown): { template: Template; json: Record<string, any> } {
  // A site config file (config/dev.json) whose researcher agent lists the servers, over the test fixture's dev.
  const fixture = readSiteConfig(TEST_CONFIG_DIR, 'dev');
  const agents = [
    { name: 'assistant', default: true, tools: ['calculator'] },
    { name: 'researcher', prompts: 'researcher', tools: ['http_fetch'], ...(mcpServers === undefined ? {} : { mcpServers }) },
  ];
  const values = { ...fixture?.values, agents } as SiteConfig['values'];
  const config = loadStageConfig('dev', { path: 'config/dev.json', values });
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

  it('GIVEN an agent with two MCP servers THEN the worker gets them in AGENTS, which the runtime parses back to the same servers', () => {
    const defs = Object.values(json['Resources'] as Record<string, any>).filter((r) => r.Type === 'AWS::ECS::TaskDefinition');
    const env = defs.flatMap((d) => d.Properties.ContainerDefinitions as any[]).flatMap((c) => (c.Environment ?? []) as { Name: string; Value: unknown }[]);
    const value = env.find((e) => e.Name === ENV.agents)?.Value;
    expect(typeof value).toBe('string');
    const researcher = parseAgentProfilesJson(value as string).agents.find((a) => a.name === 'researcher');
    expect((researcher?.mcpServers ?? []).map((s) => [s.name, s.url])).toEqual(servers.map((s) => [s.name, s.url]));
    expect(JSON.stringify(json)).not.toContain(ENV.mcpServers);
  });

  it('THEN egress opens exactly each server\'s port (its address when the URL names one, any address for a hostname) and nothing else', () => {
    const rules = (j: Record<string, any>): string[] => workerSgEgress(j).map((r) => `${r.CidrIp ?? r.CidrIpv6 ?? r.DestinationSecurityGroupId?.['Fn::GetAtt']?.[0] ?? r.DestinationPrefixListId ?? '?'}:${r.FromPort}-${r.ToPort}`);
    const withMcp = rules(json);
    const without = rules(workerTemplate(undefined).json);
    // The hostname's port 443 may already be open for webhooks; the named address is MCP's alone.
    for (const needed of ['0.0.0.0/0:443-443', '::/0:443-443', '10.20.30.40/32:8931-8931']) expect(withMcp).toContain(needed);
    expect(withMcp.filter((r) => !without.includes(r))).toEqual(['10.20.30.40/32:8931-8931']);
  });

  it('THEN the worker role may read the auth secret of the server that has one, and only that one', () => {
    const policies = Object.values(json['Resources'] as Record<string, any>).filter((r) => r.Type === 'AWS::IAM::Policy');
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    // CDK merges statements with the same actions (minimizePolicies), so the ARN may sit in a list.
    const resources = (s: any): string[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map((r: unknown) => JSON.stringify(r));
    const onAuth = statements.filter((s) => resources(s).includes(JSON.stringify(AUTH)));
    expect(onAuth).toHaveLength(1);
    expect(onAuth[0].Action).toBe('secretsmanager:GetSecretValue');
    // Only that server's secret: no other MCP-looking secret ARN is granted.
    const secretArns = statements.filter((s) => s.Action === 'secretsmanager:GetSecretValue').flatMap(resources).filter((r) => r.includes('mcp'));
    expect(secretArns).toEqual([JSON.stringify(AUTH)]);
  });

  it('GIVEN no MCP servers THEN no MCP egress and no servers in AGENTS', () => {
    const { json: plain } = workerTemplate(undefined);
    expect(workerSgEgress(plain).filter((r) => String(r.Description).startsWith('MCP server'))).toEqual([]);
    expect(JSON.stringify(plain)).not.toContain(ENV.mcpServers);
    expect(JSON.stringify(plain)).not.toContain('mcpServers');
  });

  it('GIVEN a bad MCP server entry THEN synth fails naming the key and the fix', () => {
    expect(() => workerTemplate([{ name: 'docs', url: 'ftp://x' }])).toThrow(/agents\.1\.mcpServers\.0\.url.*http\(s\) URL/s);
  });
});
