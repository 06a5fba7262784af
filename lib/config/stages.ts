import { deepMerge, type DeepPartial } from './merge';
import type { DeployStage, StageConfigInput } from './schema';

/**
 * The three stages' shape, stated as what each one changes over one base: sizing, retention,
 * routing, NAT gateways. What belongs to an adopter (accounts, regions, certificate ARNs, the
 * GitHub repository, allowed CIDRs, alarm e-mails, the provider limits) comes from
 * `config/<stage>.json`, laid over these values by `loadStageConfig`; the values here are examples
 * that staging and prod refuse to synthesize with (placeholders.ts). Prefix list IDs are the
 * us-east-1 ones for S3 and DynamoDB.
 *
 * The base is a production-shaped stage without production's cost: HTTPS for anyone, one NAT,
 * Spot workers, tickets for every alarm. Where staging and prod differ from it, it is on purpose:
 * prod keeps data, protects tables, runs one NAT per AZ, has more capacity and pages a human;
 * dev is cheap and disposable and only records its alarms.
 */
const US_EAST_1_PREFIX_LISTS = { s3: 'pl-63a5400a', dynamodb: 'pl-02cd2c6b' } as const;
/** ADOT collector release; check https://gallery.ecr.aws/aws-observability/aws-otel-collector when bumping. */
const ADOT_VERSION = 'v0.43.3';

type StagePatch = DeepPartial<StageConfigInput>;

/** Example accounts (replace them in config/<stage>.json); promotion between stages refers to them. */
const ACCOUNTS = { dev: '111111111111', staging: '222222222222', prod: '333333333333' } as const;
/** Where CI pushes each build; staging and prod copy it from here (deploy.yml). */
const DEV_REPOSITORY = { account: ACCOUNTS.dev, region: 'us-east-1', repositoryName: 'openclaw-dev' } as const;

/** What every stage has unless it says otherwise. */
const BASE: StagePatch = {
  env: { region: 'us-east-1' },
  network: { availabilityZones: ['us-east-1a', 'us-east-1b'], natGateways: 1, prefixLists: US_EAST_1_PREFIX_LISTS },
  ingress: { allowedCidr: '0.0.0.0/0' },
  data: { retain: false, deletionProtection: false, visibilityTimeoutSeconds: 300, maxReceiveCount: 5 },
  logs: { level: 'info' },
  tracing: { collector: true, collectorVersion: ADOT_VERSION },
  model: 'claude-sonnet-5',
  // Two example agents (README "Agents"): tasks name one with `agent`; the default takes the rest.
  agents: [
    { name: 'assistant', default: true, prompts: '.', tools: ['calculator', 'record_note'] },
    { name: 'researcher', prompts: 'researcher', tools: ['http_fetch'], modelTier: 'haiku', budget: { maxSteps: 20 } },
  ],
  services: {
    intake: { cpu: 512, memoryMiB: 1024, minTasks: 1, maxTasks: 4, requestsPerTarget: 500, canaryPercent: 10, canaryBakeMinutes: 5 },
    gateway: { cpu: 512, memoryMiB: 1024, minTasks: 1, maxTasks: 3, cpuTargetPercent: 60, spendCeilingUsdPerHour: 50 },
    worker: { cpu: 1024, memoryMiB: 2048, minTasks: 0, maxTasks: 10, useSpot: true, acceptableLatencySeconds: 300, averageTaskSeconds: 60 },
  },
  alarms: { pageRoute: 'ticket', ticketRoute: 'ticket', pageEmails: [], ticketEmails: [], gateway429Ratio: 0.1 },
  // Agent canary: a candidate pool next to the stable one, idle at share 0 until `npm run canary -- start`.
  canary: { enabled: true, minTasks: 0, maxTasks: 4 },
};

/** Each stage's differences from the base; keys a stage must choose itself have no base value. */
const DIFFERENCES: Readonly<Record<DeployStage, StagePatch>> = {
  dev: {
    stage: 'dev',
    env: { account: ACCOUNTS.dev },
    registry: { pullAccounts: [ACCOUNTS.staging, ACCOUNTS.prod] },
    network: { cidr: '10.10.0.0/16' },
    // No certificate in dev: the listener is plain HTTP and reachable only from the office/VPN
    // range below, never from the internet (see lib/README.md).
    ingress: { allowedCidr: '203.0.113.0/24' },
    github: { environment: 'dev' },
    // Retention 18, not 7: rows must outlive a message's 14 days in a lane plus 4 in the DLQ.
    data: { dlqRetentionDays: 4, taskRetentionDays: 18 },
    logs: { retentionDays: 7, level: 'debug' },
    services: {
      intake: { cpu: 256, memoryMiB: 512, maxTasks: 2, canaryPercent: 50, canaryBakeMinutes: 1 },
      gateway: { cpu: 256, memoryMiB: 512, maxTasks: 2, spendCeilingUsdPerHour: 10 },
      worker: { cpu: 512, memoryMiB: 1024, maxTasks: 2, acceptableLatencySeconds: 600 },
    },
    alarms: { pageRoute: 'none', ticketRoute: 'none', gateway429Ratio: 0.2 },
    canary: { maxTasks: 2 },
  },
  staging: {
    stage: 'staging',
    env: { account: ACCOUNTS.staging },
    registry: { promoteFrom: DEV_REPOSITORY },
    network: { cidr: '10.20.0.0/16' },
    ingress: { certificateArn: 'arn:aws:acm:us-east-1:222222222222:certificate/00000000-0000-4000-8000-000000000002' },
    github: { environment: 'staging' },
    data: { dlqRetentionDays: 7, taskRetentionDays: 30 },
    logs: { retentionDays: 30 },
  },
  prod: {
    stage: 'prod',
    env: { account: ACCOUNTS.prod },
    registry: { promoteFrom: DEV_REPOSITORY },
    network: { cidr: '10.30.0.0/16', availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'], natGateways: 3 },
    ingress: { certificateArn: 'arn:aws:acm:us-east-1:333333333333:certificate/00000000-0000-4000-8000-000000000003' },
    github: { environment: 'prod' },
    data: { retain: true, deletionProtection: true, dlqRetentionDays: 14, taskRetentionDays: 90 },
    logs: { retentionDays: 365 },
    services: {
      intake: { minTasks: 2, maxTasks: 10, requestsPerTarget: 1000, canaryBakeMinutes: 10 },
      // The provider limits (services.gateway.limits) are your organisation's: config/prod.json.
      gateway: { minTasks: 2, maxTasks: 6, cpuTargetPercent: 50, spendCeilingUsdPerHour: 500 },
      // On-demand only: prod latency targets leave no room for Spot reclaim storms.
      // Max sized for an 8x spike over a 40-worker baseline (bench/results/fleet-sim.md): at 50 the
      // p95 queue wait was 156 min; at 400 it is minutes. The gateway still caps provider usage.
      worker: { minTasks: 1, maxTasks: 400, useSpot: false },
    },
    alarms: { pageRoute: 'page', gateway429Ratio: 0.05 },
    // The candidate's ceiling: a 10 % share of a 400-worker fleet needs ~40; a bad candidate takes no more.
    canary: { maxTasks: 60 },
  },
};

/** The stages as the schema receives them: the base with each stage's differences laid over it. */
export const STAGE_CONFIGS: Readonly<Record<DeployStage, StageConfigInput>> = {
  dev: deepMerge(BASE, DIFFERENCES.dev) as StageConfigInput,
  staging: deepMerge(BASE, DIFFERENCES.staging) as StageConfigInput,
  prod: deepMerge(BASE, DIFFERENCES.prod) as StageConfigInput,
};
