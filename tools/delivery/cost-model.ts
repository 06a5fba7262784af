/**
 * The monthly cost of a stage at rest (no tasks submitted), counted from its synthesized
 * CloudFormation templates and priced from tools/delivery/cost-prices.json. Every quantity comes
 * from a resource in the template (NAT gateways, interface endpoints per subnet, the ALB, the
 * services' minimum running tasks with their task definitions' vCPU and memory, keys, secrets,
 * alarms, dashboards, log groups' retention, tables, repositories); what a template cannot say
 * (log volume, image size) is an assumption from the price file, named on the line it drives.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { OpenClawError } from '../../runtime/src/shared/errors';

/** A price or template the calculator cannot use; the message names the key or resource and the fix. */
export class CostError extends OpenClawError {}

const rate = z.number().min(0);
const regionPricesSchema = z.strictObject({
  natGatewayHour: rate,
  publicIpv4Hour: rate,
  interfaceEndpointAzHour: rate,
  albHour: rate,
  albLcuHour: rate,
  fargate: z.strictObject({
    X86_64: z.strictObject({ vcpuHour: rate, gbHour: rate }),
    ARM64: z.strictObject({ vcpuHour: rate, gbHour: rate }),
    spotX86_64: z.strictObject({ vcpuHour: rate, gbHour: rate }),
    ephemeralGbHourAbove20: rate,
  }),
  kmsKeyMonth: rate,
  secretMonth: rate,
  alarmMetricMonth: rate,
  highResolutionAlarmMetricMonth: rate,
  compositeAlarmMonth: rate,
  dashboardMonth: rate,
  customMetricMonth: rate,
  logsIngestGb: rate,
  logsStorageGbMonth: rate,
  dynamodbStorageGbMonth: rate,
  dynamodbPitrGbMonth: rate,
  ecrStorageGbMonth: rate,
});

export const priceTableSchema = z.object({
  takenOn: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be the date the prices were read, YYYY-MM-DD'),
  currency: z.literal('USD'),
  hoursPerMonth: z.number().positive(),
  regions: z.record(z.string(), regionPricesSchema),
  assumptions: z.object({
    logGbPerTaskDay: rate,
    flowLogGbPerDay: rate,
    lambdaLogGbPerDay: rate,
    neverExpireLogMonths: z.number().positive(),
    containerInsightsMetricsPerService: rate,
    containerInsightsMetricsPerCluster: rate,
    dynamodbGbAtRest: rate,
    imageGb: rate,
    imagesRetained: z.number().int().min(0),
    pullThroughCacheGb: rate,
    albLcuAtRest: rate,
  }),
});

export type PriceTable = z.infer<typeof priceTableSchema>;
export type RegionPrices = z.infer<typeof regionPricesSchema>;
export type CostAssumptions = PriceTable['assumptions'];

/** The committed price table. */
export const PRICE_FILE = join(__dirname, 'cost-prices.json');

/** Read and validate a price table; a bad entry fails naming its key. */
export function loadPriceTable(file: string = PRICE_FILE): PriceTable {
  const parsed = priceTableSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
  throw new CostError('bad_price_table', `${file} is not a valid price table; fix these keys:\n  ${lines.join('\n  ')}`, { file });
}

/** One line of the bill. */
export interface CostLine {
  /** What is charged, e.g. `NAT gateways`. */
  readonly item: string;
  /** How many of it the template has (resources, task-hours, GB ...). */
  readonly quantity: number;
  readonly unit: string;
  /** Where the quantity comes from, and the assumption used if any. */
  readonly basis: string;
  readonly monthlyUsd: number;
}

export interface StageCost {
  readonly stage: string;
  readonly region: string;
  readonly lines: readonly CostLine[];
  /** Resources found in the template whose at-rest cost is nil or request-priced (named, not priced). */
  readonly free: readonly string[];
  readonly monthlyUsd: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized CloudFormation is untyped JSON, read defensively below
type Json = Record<string, any>;
interface Resource {
  readonly id: string;
  readonly type: string;
  readonly props: Json;
}

/** A stage's templates: every stack of it, by any name. */
export type StageTemplates = Readonly<Record<string, Json>>;

function resourcesOf(templates: StageTemplates): Resource[] {
  return Object.values(templates).flatMap((t) =>
    Object.entries((t['Resources'] ?? {}) as Record<string, { Type: string; Properties?: Json }>).map(([id, r]) => ({ id, type: r.Type, props: r.Properties ?? {} })),
  );
}

const ofType = (all: readonly Resource[], type: string) => all.filter((r) => r.type === type);
const round2 = (n: number) => Math.round(n * 100) / 100;
const list = (xs: unknown) => (Array.isArray(xs) ? xs : xs === undefined ? [] : [xs]);

/** The logical ID a `{Ref}` or `{Fn::GetAtt}` points at, if any. */
function refId(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Json;
  if (typeof v['Ref'] === 'string') return v['Ref'];
  const att = v['Fn::GetAtt'];
  return Array.isArray(att) && typeof att[0] === 'string' ? att[0] : undefined;
}

/** A running service's minimum: the scaling target's MinCapacity, else DesiredCount (CloudFormation's default 1). */
function minimumTasks(service: Resource, targets: readonly Resource[]): { count: number; from: string } {
  const target = targets.find((t) => JSON.stringify(t.props['ResourceId'] ?? '').includes(`"${service.id}"`));
  if (target !== undefined) return { count: Number(target.props['MinCapacity'] ?? 0), from: 'scaling MinCapacity' };
  const desired = service.props['DesiredCount'];
  return desired === undefined ? { count: 1, from: 'DesiredCount default' } : { count: Number(desired), from: 'DesiredCount' };
}

/** The share of a service's tasks on Fargate Spot, from its capacity-provider weights (0 with a launch type). */
function spotShare(service: Resource): number {
  const strategy = list(service.props['CapacityProviderStrategy']) as Array<{ CapacityProvider: string; Weight?: number; Base?: number }>;
  const total = strategy.reduce((a, s) => a + (s.Weight ?? 0), 0);
  if (total === 0) return 0;
  return strategy.filter((s) => s.CapacityProvider === 'FARGATE_SPOT').reduce((a, s) => a + (s.Weight ?? 0), 0) / total;
}

/** Short name of a service for the bill: its logical ID without CDK's hash and the "Service" suffix. */
function serviceName(id: string): string {
  return id.replace(/[0-9A-F]{8}$/, '').replace(/Service$/, '') || id;
}

function fargateLines(all: readonly Resource[], p: RegionPrices, hours: number): CostLine[] {
  const taskDefs = new Map(ofType(all, 'AWS::ECS::TaskDefinition').map((t) => [t.id, t]));
  const targets = ofType(all, 'AWS::ApplicationAutoScaling::ScalableTarget');
  return ofType(all, 'AWS::ECS::Service').flatMap((service) => {
    const tdId = refId(service.props['TaskDefinition']);
    const td = tdId === undefined ? undefined : taskDefs.get(tdId);
    if (td === undefined) {
      throw new CostError('unknown_task_definition', `ECS service ${service.id} names a task definition not in the stage's templates (${JSON.stringify(service.props['TaskDefinition'])}); synthesize every stack of the stage`, { service: service.id });
    }
    const vcpu = Number(td.props['Cpu']) / 1024;
    const gb = Number(td.props['Memory']) / 1024;
    if (!(vcpu > 0) || !(gb > 0)) {
      throw new CostError('no_task_size', `Task definition ${td.id} has no task-level Cpu/Memory (got ${td.props['Cpu']}/${td.props['Memory']}); Fargate bills the task size, set it`, { taskDefinition: td.id });
    }
    const arch = (td.props['RuntimePlatform']?.['CpuArchitecture'] as string | undefined) ?? 'X86_64';
    const onDemand = arch === 'ARM64' ? p.fargate.ARM64 : p.fargate.X86_64;
    const ephemeralGb = Math.max(0, Number(td.props['EphemeralStorage']?.['SizeInGiB'] ?? 20) - 20);
    const { count, from } = minimumTasks(service, targets);
    const spot = arch === 'ARM64' ? 0 : spotShare(service);
    const perTaskHour = (r: { vcpuHour: number; gbHour: number }) => vcpu * r.vcpuHour + gb * r.gbHour + ephemeralGb * p.fargate.ephemeralGbHourAbove20;
    const taskHour = (1 - spot) * perTaskHour(onDemand) + spot * perTaskHour(p.fargate.spotX86_64);
    const containers = list(td.props['ContainerDefinitions']).map((c: Json) => String(c['Name'])).join(' + ');
    return [
      {
        item: `Fargate ${serviceName(service.id)}`,
        quantity: count,
        unit: 'tasks',
        basis: `${from}; ${vcpu} vCPU, ${gb} GB ${arch}${spot > 0 ? `, ${Math.round(spot * 100)} % Spot` : ''} per task (${containers})`,
        monthlyUsd: count * taskHour * hours,
      },
    ];
  });
}

function alarmMetrics(alarm: Resource): { metrics: number; highResolution: boolean } {
  const queries = list(alarm.props['Metrics']) as Json[];
  if (queries.length === 0) return { metrics: 1, highResolution: Number(alarm.props['Period'] ?? 60) < 60 };
  // Metric-math alarms are billed per metric they read; an anomaly band counts three.
  const stats = queries.filter((q) => q['MetricStat'] !== undefined);
  const bands = queries.filter((q) => typeof q['Expression'] === 'string' && q['Expression'].includes('ANOMALY_DETECTION_BAND')).length;
  const highResolution = stats.some((q) => Number(q['MetricStat']['Period'] ?? 60) < 60);
  return { metrics: Math.max(1, stats.length + 2 * bands), highResolution };
}

/** Log groups, their retention, and how much is written to each at rest. */
function logLines(all: readonly Resource[], p: RegionPrices, a: CostAssumptions, runningTasksByGroup: ReadonlyMap<string, number>): CostLine[] {
  const flowGroups = new Set(ofType(all, 'AWS::EC2::FlowLog').map((f) => refId(f.props['LogGroupName'])).filter((x): x is string => x !== undefined));
  let ingestGbDay = 0;
  let storedGb = 0;
  const parts: string[] = [];
  for (const group of ofType(all, 'AWS::Logs::LogGroup')) {
    const tasks = runningTasksByGroup.get(group.id) ?? 0;
    const perDay = flowGroups.has(group.id) ? a.flowLogGbPerDay : tasks > 0 ? tasks * a.logGbPerTaskDay : a.lambdaLogGbPerDay;
    const retentionDays = group.props['RetentionInDays'] === undefined ? a.neverExpireLogMonths * 30.4 : Number(group.props['RetentionInDays']);
    ingestGbDay += perDay;
    storedGb += perDay * retentionDays;
    if (perDay > 0) parts.push(`${serviceName(group.id)} ${perDay} GB/day × ${group.props['RetentionInDays'] ?? 'never expire'} d`);
  }
  const groups = ofType(all, 'AWS::Logs::LogGroup').length;
  return [
    {
      item: 'CloudWatch Logs ingestion',
      quantity: round2(ingestGbDay * 30.4),
      unit: 'GB/month',
      basis: `assumed ${a.logGbPerTaskDay} GB/day per running task, ${a.flowLogGbPerDay} GB/day of flow logs (REJECT only); ${groups} log groups`,
      monthlyUsd: ingestGbDay * 30.4 * p.logsIngestGb,
    },
    {
      item: 'CloudWatch Logs storage (retention)',
      quantity: round2(storedGb),
      unit: 'GB stored',
      basis: `steady state = daily volume × retention (uncompressed, an upper bound): ${parts.join('; ') || 'nothing written at rest'}`,
      monthlyUsd: storedGb * p.logsStorageGbMonth,
    },
  ];
}

/** The stage's at-rest bill from its templates. */
export function costAtRest(stage: string, region: string, templates: StageTemplates, prices: PriceTable): StageCost {
  const p = prices.regions[region];
  if (p === undefined) {
    throw new CostError('no_region_prices', `No prices for region ${region} (stage ${stage}) in the price table; add a "${region}" block to tools/delivery/cost-prices.json from the AWS pricing pages (it has ${Object.keys(prices.regions).join(', ')})`, { stage, region });
  }
  const a = prices.assumptions;
  const h = prices.hoursPerMonth;
  const all = resourcesOf(templates);
  const count = (type: string) => ofType(all, type).length;
  const lines: CostLine[] = [];
  const add = (line: CostLine) => {
    if (line.quantity > 0 || line.monthlyUsd > 0) lines.push(line);
  };

  const nats = count('AWS::EC2::NatGateway');
  add({ item: 'NAT gateways', quantity: nats, unit: 'gateways', basis: 'AWS::EC2::NatGateway; data processed at rest assumed 0', monthlyUsd: nats * p.natGatewayHour * h });

  const endpoints = ofType(all, 'AWS::EC2::VPCEndpoint').filter((e) => e.props['VpcEndpointType'] === 'Interface');
  const endpointAzs = endpoints.reduce((n, e) => n + list(e.props['SubnetIds']).length, 0);
  // com.amazonaws.<region>.<service>: the part after the region.
  const names = endpoints.map((e) => (typeof e.props['ServiceName'] === 'string' ? e.props['ServiceName'].split('.').slice(3).join('.') : e.id)).join(', ');
  add({ item: 'Interface VPC endpoints', quantity: endpointAzs, unit: 'endpoint-AZs', basis: `${endpoints.length} interface endpoints (${names}) × their subnets; gateway endpoints are free`, monthlyUsd: endpointAzs * p.interfaceEndpointAzHour * h });

  const albs = ofType(all, 'AWS::ElasticLoadBalancingV2::LoadBalancer').filter((l) => (l.props['Type'] ?? 'application') === 'application');
  add({ item: 'Application load balancer', quantity: albs.length, unit: 'ALBs', basis: `AWS::ElasticLoadBalancingV2::LoadBalancer; ${a.albLcuAtRest} LCU at rest (assumed)`, monthlyUsd: albs.length * (p.albHour + a.albLcuAtRest * p.albLcuHour) * h });

  // Public IPv4: each EIP (the NAT gateways') and one address per AZ of an internet-facing ALB.
  const eips = count('AWS::EC2::EIP');
  const albIps = albs.filter((l) => l.props['Scheme'] !== 'internal').reduce((n, l) => n + list(l.props['Subnets']).length, 0);
  add({ item: 'Public IPv4 addresses', quantity: eips + albIps, unit: 'addresses', basis: `${eips} Elastic IPs + ${albIps} internet-facing ALB nodes (one per subnet at rest)`, monthlyUsd: (eips + albIps) * p.publicIpv4Hour * h });

  const fargate = fargateLines(all, p, h);
  lines.push(...fargate.filter((l) => l.quantity > 0));

  const keys = count('AWS::KMS::Key');
  add({ item: 'KMS customer-managed keys', quantity: keys, unit: 'keys', basis: 'AWS::KMS::Key (requests at rest negligible)', monthlyUsd: keys * p.kmsKeyMonth });

  const secrets = count('AWS::SecretsManager::Secret');
  add({ item: 'Secrets Manager secrets', quantity: secrets, unit: 'secrets', basis: 'AWS::SecretsManager::Secret (API calls at rest negligible)', monthlyUsd: secrets * p.secretMonth });

  const alarms = ofType(all, 'AWS::CloudWatch::Alarm').map(alarmMetrics);
  const standard = alarms.filter((x) => !x.highResolution).reduce((n, x) => n + x.metrics, 0);
  const high = alarms.filter((x) => x.highResolution).reduce((n, x) => n + x.metrics, 0);
  add({ item: 'CloudWatch alarms', quantity: standard + high, unit: 'alarm metrics', basis: `${alarms.length} alarms; metric-math alarms count each metric they read${high > 0 ? `; ${high} high-resolution` : ''}`, monthlyUsd: standard * p.alarmMetricMonth + high * p.highResolutionAlarmMetricMonth });
  const composite = count('AWS::CloudWatch::CompositeAlarm');
  add({ item: 'CloudWatch composite alarms', quantity: composite, unit: 'alarms', basis: 'AWS::CloudWatch::CompositeAlarm', monthlyUsd: composite * p.compositeAlarmMonth });
  const dashboards = count('AWS::CloudWatch::Dashboard');
  add({ item: 'CloudWatch dashboards', quantity: dashboards, unit: 'dashboards', basis: 'AWS::CloudWatch::Dashboard (the account\'s first 3 are free; not deducted)', monthlyUsd: dashboards * p.dashboardMonth });

  // Container Insights publishes per-cluster and per-service metrics while anything runs.
  const insightClusters = ofType(all, 'AWS::ECS::Cluster').filter((c) => list(c.props['ClusterSettings']).some((s: Json) => s['Name'] === 'containerInsights' && s['Value'] !== 'disabled'));
  const services = count('AWS::ECS::Service');
  const insightMetrics = insightClusters.length === 0 ? 0 : insightClusters.length * a.containerInsightsMetricsPerCluster + services * a.containerInsightsMetricsPerService;
  add({ item: 'Container Insights metrics', quantity: insightMetrics, unit: 'metrics', basis: `assumed ${a.containerInsightsMetricsPerCluster} per cluster + ${a.containerInsightsMetricsPerService} per service (${services} services)`, monthlyUsd: insightMetrics * p.customMetricMonth });

  const runningByGroup = new Map<string, number>();
  const taskDefs = new Map(ofType(all, 'AWS::ECS::TaskDefinition').map((t) => [t.id, t]));
  const targets = ofType(all, 'AWS::ApplicationAutoScaling::ScalableTarget');
  for (const service of ofType(all, 'AWS::ECS::Service')) {
    const td = taskDefs.get(refId(service.props['TaskDefinition']) ?? '');
    const tasks = minimumTasks(service, targets).count;
    // A sidecar usually logs to its task's group: count each group once per task.
    const groups = new Set((list(td?.props['ContainerDefinitions']) as Json[]).map((c) => refId(c['LogConfiguration']?.['Options']?.['awslogs-group'])));
    for (const group of groups) if (group !== undefined) runningByGroup.set(group, (runningByGroup.get(group) ?? 0) + tasks);
  }
  for (const line of logLines(all, p, a, runningByGroup)) add(line);

  const tables = ofType(all, 'AWS::DynamoDB::Table');
  const pitr = tables.filter((t) => t.props['PointInTimeRecoverySpecification']?.['PointInTimeRecoveryEnabled'] === true).length;
  const onDemand = tables.filter((t) => t.props['BillingMode'] === 'PAY_PER_REQUEST').length;
  add({
    item: 'DynamoDB tables (on-demand, at rest)',
    quantity: tables.length,
    unit: 'tables',
    basis: `${onDemand} on-demand (no request at rest), assumed ${a.dynamodbGbAtRest} GB each${pitr > 0 ? `, ${pitr} with point-in-time recovery` : ''}`,
    monthlyUsd: tables.length * a.dynamodbGbAtRest * p.dynamodbStorageGbMonth + pitr * a.dynamodbGbAtRest * p.dynamodbPitrGbMonth,
  });

  const repos = count('AWS::ECR::Repository');
  const caches = count('AWS::ECR::PullThroughCacheRule');
  const ecrGb = repos * a.imagesRetained * a.imageGb + caches * a.pullThroughCacheGb;
  add({ item: 'ECR storage', quantity: round2(ecrGb), unit: 'GB', basis: `${repos} repositories × assumed ${a.imagesRetained} retained images × ${a.imageGb} GB (tagged images never expire)${caches > 0 ? ` + ${caches} pull-through cache × ${a.pullThroughCacheGb} GB` : ''}`, monthlyUsd: ecrGb * p.ecrStorageGbMonth });

  const freeTypes: Readonly<Record<string, string>> = {
    'AWS::Lambda::Function': 'Lambda functions',
    'AWS::SNS::Topic': 'SNS topics',
    'AWS::S3::Bucket': 'S3 buckets (access logs)',
    'AWS::SSM::Parameter': 'SSM parameters (standard)',
    'AWS::SQS::Queue': 'SQS queues (requests only)',
    'AWS::Events::Rule': 'EventBridge rules',
  };
  const free = Object.entries(freeTypes).flatMap(([type, label]) => (count(type) > 0 ? [`${count(type)} ${label}`] : []));
  const gatewayEndpoints = ofType(all, 'AWS::EC2::VPCEndpoint').length - endpoints.length;
  if (gatewayEndpoints > 0) free.push(`${gatewayEndpoints} gateway VPC endpoints`);
  const rounded = lines.map((l) => ({ ...l, monthlyUsd: round2(l.monthlyUsd) }));
  return { stage, region, lines: rounded, free, monthlyUsd: round2(rounded.reduce((n, l) => n + l.monthlyUsd, 0)) };
}

/** The bill as a text table (what `npm run cost` prints). */
export function renderStageCost(cost: StageCost, prices: PriceTable, note?: string): string {
  const rows = cost.lines.map((l) => [l.item, `${l.quantity} ${l.unit}`, `$${l.monthlyUsd.toFixed(2)}`, l.basis]);
  const header = ['item', 'quantity', 'USD/month', 'from the template (and assumptions)'];
  const widths = [0, 1, 2].map((i) => Math.max((header[i] ?? '').length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: readonly string[]) => [(r[0] ?? '').padEnd(widths[0] ?? 0), (r[1] ?? '').padStart(widths[1] ?? 0), (r[2] ?? '').padStart(widths[2] ?? 0), r[3] ?? ''].join('  ');
  const out = [
    `Stage ${cost.stage} (${cost.region}), at rest: $${cost.monthlyUsd.toFixed(2)}/month — list prices of ${prices.takenOn}, ${prices.hoursPerMonth} h/month`,
    ...(note === undefined ? [] : [note]),
    fmt(header),
    ...rows.map(fmt),
    fmt(['total', '', `$${cost.monthlyUsd.toFixed(2)}`, '']),
    ...(cost.free.length === 0 ? [] : [`not priced (nil or per request at rest): ${cost.free.join(', ')}`]),
  ];
  return `${out.join('\n')}\n`;
}
