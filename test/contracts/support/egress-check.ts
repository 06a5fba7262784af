/**
 * The network contract: every outbound connection a service opened in the recorded run must be
 * possible from where the template places it. A local destination stands for what it emulates
 * (an AWS service's endpoint, the gateway, the model provider, a webhook receiver, an MCP
 * server); each is checked against the service's security-group egress, the stage's VPC
 * endpoints (interface: the endpoint's group must admit the task; gateway: a prefix-list or
 * internet rule on 443 and the route), Service Connect for the gateway, and a NAT route for the
 * internet. A destination the run cannot name fails too.
 */
import type { CallRecord, RecordedService } from '../../../runtime/src/shared/call-record';
import { WEBHOOK_PORT } from '../../../runtime/src/shared/callback-url-policy';
import type { StandIn } from './recorded-workload';
import type { StageModel } from './stage-model';
import { SERVICES_STACK } from './stage-model';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, read by path
type Json = any;

export interface EgressReport {
  readonly violations: readonly string[];
  readonly table: string;
}

interface Rule {
  readonly protocol: string;
  readonly from: number;
  readonly to: number;
  readonly cidr?: string;
  readonly prefixList?: string;
  readonly group?: string;
}

const list = <T>(v: T | readonly T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? [...(v as T[])] : [v as T]);

/** Link-local addresses a task reaches without its security group (metadata endpoints). */
const LINK_LOCAL = /^169\.254\./;

function rulesOf(stage: StageModel, groupId: string, direction: 'Egress' | 'Ingress'): Rule[] {
  const r = stage.resolver;
  const out: Rule[] = [];
  const toRule = (x: Json, stack: string): Rule => ({
    protocol: String(x.IpProtocol),
    from: Number(x.FromPort ?? -1),
    to: Number(x.ToPort ?? -1),
    ...(x.CidrIp !== undefined ? { cidr: r.str(x.CidrIp, stack) } : x.CidrIpv6 !== undefined ? { cidr: r.str(x.CidrIpv6, stack) } : {}),
    ...(x.DestinationPrefixListId !== undefined ? { prefixList: r.str(x.DestinationPrefixListId, stack) } : {}),
    ...(x.DestinationSecurityGroupId !== undefined ? { group: r.str(x.DestinationSecurityGroupId, stack) } : {}),
    ...(x.SourceSecurityGroupId !== undefined ? { group: r.str(x.SourceSecurityGroupId, stack) } : {}),
  });
  for (const stack of Object.keys(r.stage.templates)) {
    for (const [id, res] of Object.entries(r.resources(stack))) {
      if (res.Type === 'AWS::EC2::SecurityGroup' && r.str({ 'Fn::GetAtt': [id, 'GroupId'] }, stack) === groupId) {
        out.push(...list<Json>(res.Properties?.[`SecurityGroup${direction}`]).map((x) => toRule(x, stack)));
      }
      if (res.Type === `AWS::EC2::SecurityGroup${direction}` && r.str(res.Properties?.['GroupId'], stack) === groupId) out.push(toRule(res.Properties, stack));
    }
  }
  return out;
}

const covers = (rule: Rule, port: number) => (rule.protocol === 'tcp' || rule.protocol === '-1') && (rule.protocol === '-1' || (rule.from <= port && port <= rule.to));
const anywhere = (rule: Rule) => rule.cidr === '0.0.0.0/0' || rule.cidr === '::/0';

interface Endpoint {
  readonly type: 'Interface' | 'Gateway';
  readonly groups: readonly string[];
  readonly privateDns: boolean;
}

function vpcEndpoints(stage: StageModel): Map<string, Endpoint> {
  const r = stage.resolver;
  const found = new Map<string, Endpoint>();
  for (const stack of Object.keys(r.stage.templates)) {
    for (const [, res] of Object.entries(r.resources(stack))) {
      if (res.Type !== 'AWS::EC2::VPCEndpoint') continue;
      const p = res.Properties ?? {};
      const name = r.str(p['ServiceName'], stack).replace(`com.amazonaws.${stage.region}.`, '');
      found.set(name, {
        type: p['VpcEndpointType'] === 'Interface' ? 'Interface' : 'Gateway',
        groups: list<Json>(p['SecurityGroupIds']).map((g) => r.str(g, stack)),
        privateDns: p['PrivateDnsEnabled'] === true,
      });
    }
  }
  return found;
}

/** Whether the service's subnets send 0.0.0.0/0 through a NAT gateway. */
function natRoute(stage: StageModel, subnets: readonly string[]): boolean {
  const r = stage.resolver;
  const tables = new Set<string>();
  const routes: Array<{ table: string; nat: boolean }> = [];
  for (const stack of Object.keys(r.stage.templates)) {
    for (const [, res] of Object.entries(r.resources(stack))) {
      const p = res.Properties ?? {};
      if (res.Type === 'AWS::EC2::SubnetRouteTableAssociation' && subnets.includes(r.str(p['SubnetId'], stack))) tables.add(r.str(p['RouteTableId'], stack));
      if (res.Type === 'AWS::EC2::Route' && p['DestinationCidrBlock'] === '0.0.0.0/0') routes.push({ table: r.str(p['RouteTableId'], stack), nat: p['NatGatewayId'] !== undefined });
    }
  }
  return tables.size > 0 && [...tables].every((t) => routes.some((x) => x.table === t && x.nat));
}

export function checkEgress(
  stage: StageModel,
  records: readonly CallRecord[],
  standIns: ReadonlyMap<string, StandIn>,
  /** AWS service -> the prefix list of its gateway endpoint (the stage config's). */
  prefixLists: Readonly<Record<string, string>>,
): EgressReport {
  const endpoints = vpcEndpoints(stage);
  const vpcCidr = (() => {
    const r = stage.resolver;
    for (const stack of Object.keys(r.stage.templates)) for (const [id, res] of Object.entries(r.resources(stack))) if (res.Type === 'AWS::EC2::VPC') return r.str({ 'Fn::GetAtt': [id, 'CidrBlock'] }, stack);
    return undefined;
  })();
  const violations: string[] = [];
  const rows: string[][] = [['service', 'local destination', 'stands for', 'allowed by']];
  const seen = new Set<string>();
  for (const rec of records) {
    if (rec.kind !== 'connection') continue;
    const key = `${rec.service} ${rec.address}:${rec.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const model = stage.services[rec.service];
    const egress = model.securityGroupIds.flatMap((g) => rulesOf(stage, g, 'Egress'));
    const nat = natRoute(stage, model.subnets);
    const where = `${rec.service} (security group ${model.securityGroupIds.join(', ')}, ${stage.name})`;
    const standIn = standIns.get(`${rec.address}:${rec.port}`);
    const internet = (port: number, what: string): string | undefined => {
      const rule = egress.find((x) => anywhere(x) && covers(x, port));
      if (rule === undefined) return void violations.push(`${where} connected to ${what} on port ${port}, but no egress rule opens port ${port} to the internet`);
      if (!nat) return void violations.push(`${where} connected to ${what}, but its subnets have no 0.0.0.0/0 route through a NAT gateway`);
      return `egress ${rule.cidr}:${port} + NAT`;
    };
    let allowedBy: string | undefined;
    let standsFor: string;
    if (standIn === undefined) {
      standsFor = LINK_LOCAL.test(rec.address) ? 'instance/task metadata (link-local)' : 'unknown';
      if (LINK_LOCAL.test(rec.address)) allowedBy = 'link-local, not subject to security groups';
      else violations.push(`${where} connected to ${rec.address}:${rec.port}, which stands for nothing the template knows (not an AWS endpoint, the gateway, the model provider, a webhook or an MCP server)`);
    } else if (standIn.kind === 'aws') {
      const svc = standIn.awsService;
      standsFor = `${svc} (HTTPS 443)`;
      const ep = endpoints.get(svc);
      if (ep?.type === 'Interface' && ep.privateDns) {
        const rule =
          egress.find((x) => covers(x, 443) && x.group !== undefined && ep.groups.includes(x.group)) ??
          egress.find((x) => covers(x, 443) && (anywhere(x) || (x.cidr !== undefined && x.cidr === vpcCidr)));
        const admits = ep.groups.flatMap((g) => rulesOf(stage, g, 'Ingress')).some((x) => covers(x, 443) && (x.cidr === vpcCidr || (x.group !== undefined && model.securityGroupIds.includes(x.group)) || anywhere(x)));
        if (rule === undefined) violations.push(`${where} calls ${svc} through its interface endpoint, but no egress rule opens 443 to the endpoint's security group`);
        else if (!admits) violations.push(`${where} calls ${svc}, but the interface endpoint's security group does not admit 443 from the task`);
        else allowedBy = `interface endpoint ${svc} (egress ${rule.group !== undefined ? "to the endpoints' group" : rule.cidr}:443)`;
      } else if (ep?.type === 'Gateway') {
        const pl = prefixLists[svc];
        const rule = egress.find((x) => covers(x, 443) && pl !== undefined && x.prefixList === pl) ?? egress.find((x) => covers(x, 443) && anywhere(x));
        if (rule === undefined) violations.push(`${where} calls ${svc} through the gateway endpoint, but no egress rule opens 443 to its prefix list ${pl ?? '(unknown)'} or the internet`);
        else allowedBy = `gateway endpoint ${svc} (egress ${rule.prefixList ?? rule.cidr}:443)`;
      } else {
        allowedBy = internet(443, `${svc} without a VPC endpoint for it`);
      }
    } else if (standIn.kind === 'gateway') {
      standsFor = 'the LLM gateway (Service Connect)';
      allowedBy = serviceConnect(stage, rec.service, egress, where, violations);
    } else if (standIn.kind === 'model-provider') {
      standsFor = 'the model provider (UPSTREAM_URL)';
      const upstream = stage.services.gateway.env['UPSTREAM_URL'] ?? 'https://api.anthropic.com';
      const u = new URL(upstream);
      allowedBy = internet(Number(u.port || 443), `the model provider ${u.host}`);
    } else if (standIn.kind === 'webhook') {
      standsFor = `a webhook receiver (https, port ${WEBHOOK_PORT})`;
      allowedBy = internet(WEBHOOK_PORT, 'a webhook receiver');
    } else {
      standsFor = 'an MCP server (https 443)';
      allowedBy = internet(443, 'an MCP server');
    }
    rows.push([rec.service, `${rec.address}:${rec.port}`, standsFor, allowedBy ?? 'NOT ALLOWED']);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return { violations, table: rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') };
}

/** The client reaches the gateway by its Service Connect alias: same namespace, and the groups admit the container port. */
function serviceConnect(stage: StageModel, client: RecordedService, egress: readonly Rule[], where: string, violations: string[]): string | undefined {
  const r = stage.resolver;
  const resources = r.resources(SERVICES_STACK);
  const gw = stage.services.gateway;
  const gwService = resources[gw.ecsServiceId]?.Properties ?? {};
  const clientService = resources[stage.services[client].ecsServiceId]?.Properties ?? {};
  const sc = gwService['ServiceConnectConfiguration'];
  const alias = list<Json>(sc?.Services).flatMap((s) => list<Json>(s.ClientAliases))[0];
  const gatewayUrl = stage.services[client].env['GATEWAY_URL'];
  if (alias === undefined || gatewayUrl === undefined) return void violations.push(`${where} connected to the gateway, but the gateway publishes no Service Connect alias or the client has no GATEWAY_URL`);
  const url = new URL(gatewayUrl);
  if (url.hostname !== alias.DnsName || Number(url.port) !== Number(alias.Port)) return void violations.push(`${where}: GATEWAY_URL ${gatewayUrl} is not the Service Connect alias ${alias.DnsName}:${alias.Port}`);
  if (clientService['ServiceConnectConfiguration']?.Enabled !== true || JSON.stringify(clientService['ServiceConnectConfiguration']?.Namespace) !== JSON.stringify(sc?.Namespace)) {
    return void violations.push(`${where} connected to the gateway, but its ECS service is not in the gateway's Service Connect namespace`);
  }
  const td = resources[gw.taskDefinitionId]?.Properties ?? {};
  const portName = list<Json>(sc?.Services)[0]?.PortName;
  const containerPort = Number(list<Json>(list<Json>(td['ContainerDefinitions']).find((c) => c.Name === 'gateway')?.PortMappings).find((p) => p.Name === portName)?.ContainerPort);
  const out = egress.find((x) => covers(x, containerPort) && x.group !== undefined && gw.securityGroupIds.includes(x.group));
  const inbound = gw.securityGroupIds.flatMap((g) => rulesOf(stage, g, 'Ingress')).find((x) => covers(x, containerPort) && x.group !== undefined && stage.services[client].securityGroupIds.includes(x.group));
  if (out === undefined) return void violations.push(`${where} connected to the gateway, but no egress rule opens port ${containerPort} to the gateway's security group`);
  if (inbound === undefined) return void violations.push(`${where} connected to the gateway, but the gateway's security group does not admit port ${containerPort} from it`);
  return `Service Connect ${alias.DnsName}:${alias.Port} + egress/ingress on ${containerPort}`;
}
