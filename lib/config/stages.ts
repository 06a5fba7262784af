import type { DeployStage, StageConfigInput } from './schema';

/**
 * The three stages. Account IDs, certificate ARNs and the GitHub repository are the values to
 * edit when adopting this app; everything is validated by `loadStageConfig` before any construct
 * sees it. Prefix list IDs are the us-east-1 ones for S3 and DynamoDB.
 *
 * Where staging and prod differ, it is on purpose: prod keeps data, protects tables, runs one NAT
 * per AZ, has more capacity and pages a human; staging files tickets; dev is cheap and disposable.
 */
const US_EAST_1_PREFIX_LISTS = { s3: 'pl-63a5400a', dynamodb: 'pl-02cd2c6b' } as const;
const GITHUB = { owner: 'openclaw', repo: 'openclaw-deploy' } as const;
/** ADOT collector release; check https://gallery.ecr.aws/aws-observability/aws-otel-collector when bumping. */
const ADOT_VERSION = 'v0.43.3';

export const STAGE_CONFIGS: Readonly<Record<DeployStage, StageConfigInput>> = {
  dev: {
    stage: 'dev',
    env: { account: '111111111111', region: 'us-east-1' },
    network: {
      cidr: '10.10.0.0/16',
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      natGateways: 1,
      prefixLists: US_EAST_1_PREFIX_LISTS,
    },
    // No certificate in dev: the listener is plain HTTP and reachable only from the office/VPN
    // range below, never from the internet (see lib/README.md).
    ingress: { allowedCidr: '203.0.113.0/24' },
    github: { ...GITHUB, environment: 'dev' },
    // Retention 18, not 7: rows must outlive a message's 14 days in a lane plus 4 in the DLQ.
    data: { retain: false, deletionProtection: false, visibilityTimeoutSeconds: 300, maxReceiveCount: 5, dlqRetentionDays: 4, taskRetentionDays: 18 },
    logs: { retentionDays: 7, level: 'debug' },
    tracing: { collector: true, collectorVersion: ADOT_VERSION },
    model: 'claude-sonnet-5',
    services: {
      intake: { cpu: 256, memoryMiB: 512, minTasks: 1, maxTasks: 2, requestsPerTarget: 500, canaryPercent: 50, canaryBakeMinutes: 1 },
      gateway: { cpu: 256, memoryMiB: 512, minTasks: 1, maxTasks: 2, cpuTargetPercent: 60 },
      worker: { cpu: 512, memoryMiB: 1024, minTasks: 0, maxTasks: 2, useSpot: true, acceptableLatencySeconds: 600, averageTaskSeconds: 60 },
    },
    alarms: { pageRoute: 'none', ticketRoute: 'none', pageEmails: [], ticketEmails: [], gateway429Ratio: 0.2 },    // Agent canary: a candidate pool next to the stable one, idle at share 0 (npm run canary -- start).
    canary: { enabled: true, minTasks: 0, maxTasks: 2 },
  },
  staging: {
    stage: 'staging',
    env: { account: '222222222222', region: 'us-east-1' },
    network: {
      cidr: '10.20.0.0/16',
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      natGateways: 1,
      prefixLists: US_EAST_1_PREFIX_LISTS,
    },
    ingress: {
      certificateArn: 'arn:aws:acm:us-east-1:222222222222:certificate/00000000-0000-4000-8000-000000000002',
      allowedCidr: '0.0.0.0/0',
    },
    github: { ...GITHUB, environment: 'staging' },
    data: { retain: false, deletionProtection: false, visibilityTimeoutSeconds: 300, maxReceiveCount: 5, dlqRetentionDays: 7, taskRetentionDays: 30 },
    logs: { retentionDays: 30, level: 'info' },
    tracing: { collector: true, collectorVersion: ADOT_VERSION },
    model: 'claude-sonnet-5',
    services: {
      intake: { cpu: 512, memoryMiB: 1024, minTasks: 1, maxTasks: 4, requestsPerTarget: 500, canaryPercent: 10, canaryBakeMinutes: 5 },
      gateway: { cpu: 512, memoryMiB: 1024, minTasks: 1, maxTasks: 3, cpuTargetPercent: 60 },
      worker: { cpu: 1024, memoryMiB: 2048, minTasks: 0, maxTasks: 10, useSpot: true, acceptableLatencySeconds: 300, averageTaskSeconds: 60 },
    },
    alarms: { pageRoute: 'ticket', ticketRoute: 'ticket', pageEmails: [], ticketEmails: [], gateway429Ratio: 0.1 },    canary: { enabled: true, minTasks: 0, maxTasks: 4 },
  },
  prod: {
    stage: 'prod',
    env: { account: '333333333333', region: 'us-east-1' },
    network: {
      cidr: '10.30.0.0/16',
      availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
      natGateways: 3,
      prefixLists: US_EAST_1_PREFIX_LISTS,
    },
    ingress: {
      certificateArn: 'arn:aws:acm:us-east-1:333333333333:certificate/00000000-0000-4000-8000-000000000003',
      allowedCidr: '0.0.0.0/0',
    },
    github: { ...GITHUB, environment: 'prod' },
    data: { retain: true, deletionProtection: true, visibilityTimeoutSeconds: 300, maxReceiveCount: 5, dlqRetentionDays: 14, taskRetentionDays: 90 },
    logs: { retentionDays: 365, level: 'info' },
    tracing: { collector: true, collectorVersion: ADOT_VERSION },
    model: 'claude-sonnet-5',
    services: {
      intake: { cpu: 512, memoryMiB: 1024, minTasks: 2, maxTasks: 10, requestsPerTarget: 1000, canaryPercent: 10, canaryBakeMinutes: 10 },
      gateway: {
        cpu: 512,
        memoryMiB: 1024,
        minTasks: 2,
        maxTasks: 6,
        cpuTargetPercent: 50,
        // Your organisation's provider limits per model class (Anthropic console, Limits page).
        limits: {
          tiers: {
            sonnet: { models: ['claude-sonnet-5'], rpm: 4000, itpm: 2_000_000, otpm: 400_000 },
            opus: { models: ['claude-opus-5'], rpm: 4000, itpm: 2_000_000, otpm: 400_000 },
            haiku: { models: ['claude-haiku-5-5'], rpm: 4000, itpm: 4_000_000, otpm: 800_000 },
          },
        },
      },
      // On-demand only: prod latency targets leave no room for Spot reclaim storms.
      // Max sized for an 8x spike over a 40-worker baseline (bench/results/fleet-sim.md): at 50 the
      // p95 queue wait was 156 min; at 400 it is minutes. The gateway still caps provider usage.
      worker: { cpu: 1024, memoryMiB: 2048, minTasks: 1, maxTasks: 400, useSpot: false, acceptableLatencySeconds: 300, averageTaskSeconds: 60 },
    },
    alarms: { pageRoute: 'page', ticketRoute: 'ticket', pageEmails: [], ticketEmails: [], gateway429Ratio: 0.05 },    // The candidate's ceiling: at a 10 % share of a 400-worker fleet it needs ~40; a bad one takes no more.
    canary: { enabled: true, minTasks: 0, maxTasks: 60 },
  },
};
