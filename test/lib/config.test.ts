import { DEV_PLACEHOLDER_IMAGE_DIGEST, STAGE_CONFIGS, deriveCapacityPlan, loadStageConfig, parseStageConfig, resolveImageDigest } from '../../lib/config';
import { InfraConfigError } from '../../lib/errors';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('stage configuration', () => {
  test.each(['dev', 'staging', 'prod'] as const)('GIVEN the %s config WHEN loaded THEN it validates', (stage) => {
    const config = loadStageConfig(stage);
    expect(config.stage).toBe(stage);
  });

  test('GIVEN an unknown stage name WHEN loaded THEN the error lists the valid names', () => {
    expect(() => loadStageConfig('qa')).toThrow(/Unknown stage "qa"; use one of dev, staging, prod/);
  });

  test('GIVEN staging without a certificate WHEN parsed THEN the error names the key and the fix', () => {
    const input = clone(STAGE_CONFIGS.staging) as { ingress: { certificateArn?: string } };
    delete input.ingress.certificateArn;
    expect(() => parseStageConfig(input)).toThrow(/ingress\.certificateArn=undefined: stage staging serves the public API and needs HTTPS/);
  });

  test('GIVEN a memory size Fargate does not offer for the CPU WHEN parsed THEN the error lists valid sizes', () => {
    const input = clone(STAGE_CONFIGS.prod);
    input.services.worker.memoryMiB = 1536;
    expect(() => parseStageConfig(input)).toThrow(/services\.worker\.memoryMiB=1536: 1536 MiB is not a valid Fargate size for 1024 CPU units; use one of 2048, 3072/);
  });

  test('GIVEN minTasks above maxTasks WHEN parsed THEN the error says which to change', () => {
    const input = clone(STAGE_CONFIGS.prod);
    input.services.gateway.minTasks = 9;
    expect(() => parseStageConfig(input)).toThrow(/services\.gateway\.minTasks=9: minTasks 9 exceeds maxTasks 6/);
  });

  test('GIVEN gateway limits the runtime would refuse WHEN parsed THEN synth fails naming the key, not the deployed gateway', () => {
    const input = clone(STAGE_CONFIGS.prod) as { services: { gateway: { limits?: unknown } } };
    input.services.gateway.limits = { tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: -1, itpm: 1, otpm: 1 } } };
    expect(() => parseStageConfig(input)).toThrow(/services\.gateway\.limits.*Invalid GATEWAY_LIMITS: tiers\.sonnet\.rpm/);
  });

  test('GIVEN a latency goal shorter than one task WHEN parsed THEN it is rejected', () => {
    const input = clone(STAGE_CONFIGS.prod);
    input.services.worker.acceptableLatencySeconds = 30;
    expect(() => parseStageConfig(input)).toThrow(InfraConfigError);
    expect(() => parseStageConfig(input)).toThrow(/acceptableLatencySeconds=30: acceptable latency 30s is below the average task time 60s/);
  });

  test('GIVEN task retention shorter than lane + DLQ retention WHEN parsed THEN it names both values and the fix', () => {
    const input = clone(STAGE_CONFIGS.staging);
    input.data.taskRetentionDays = 20;
    expect(() => parseStageConfig(input)).toThrow(InfraConfigError);
    expect(() => parseStageConfig(input)).toThrow(
      /data\.taskRetentionDays=20: task retention 20 days is shorter than a message can live in SQS \(lanes 14 \+ DLQ 7 = 21 days\).*raise taskRetentionDays to at least 21 or lower dlqRetentionDays/,
    );
    input.data.taskRetentionDays = 21;
    expect(parseStageConfig(input).data.taskRetentionDays).toBe(21);
  });

  test('GIVEN the stages WHEN loaded THEN task data is kept 18 (dev), 30 (staging) and 90 (prod) days', () => {
    expect(['dev', 'staging', 'prod'].map((s) => loadStageConfig(s).data.taskRetentionDays)).toEqual([18, 30, 90]);
  });

  test('GIVEN an unexpected key WHEN parsed THEN it is rejected rather than ignored', () => {
    const input = { ...clone(STAGE_CONFIGS.dev), natGatways: 2 };
    expect(() => parseStageConfig(input)).toThrow(/natGatways/);
  });
});

describe('stages differ where they should', () => {
  const staging = loadStageConfig('staging');
  const prod = loadStageConfig('prod');

  test('prod keeps data and protects tables; staging does not', () => {
    expect([prod.data.retain, prod.data.deletionProtection]).toEqual([true, true]);
    expect([staging.data.retain, staging.data.deletionProtection]).toEqual([false, false]);
  });

  test('prod runs a NAT per AZ, staging one', () => {
    expect(prod.network.natGateways).toBe(prod.network.availabilityZones.length);
    expect(staging.network.natGateways).toBe(1);
  });

  test('prod pages, staging files tickets', () => {
    expect(prod.alarms.pageRoute).toBe('page');
    expect(staging.alarms.pageRoute).toBe('ticket');
  });

  test('prod has more capacity and longer log retention', () => {
    expect(prod.services.worker.maxTasks).toBeGreaterThan(staging.services.worker.maxTasks);
    expect(prod.services.intake.minTasks).toBeGreaterThan(staging.services.intake.minTasks);
    expect(prod.logs.retentionDays).toBeGreaterThan(staging.logs.retentionDays);
  });
});

describe('image digest', () => {
  const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;

  test('GIVEN a digest WHEN resolved for prod THEN it is used as is', () => {
    expect(resolveImageDigest('prod', digest)).toEqual({ digest, placeholder: false });
  });

  test('GIVEN no digest WHEN resolved for dev THEN the named placeholder is used without a problem', () => {
    expect(resolveImageDigest('dev', undefined)).toEqual({ digest: DEV_PLACEHOLDER_IMAGE_DIGEST, placeholder: true });
  });

  test.each(['staging', 'prod'] as const)('GIVEN no digest WHEN resolved for %s THEN the problem says what to pass', (stage) => {
    const resolved = resolveImageDigest(stage, undefined);
    expect(resolved.placeholder).toBe(true);
    expect(resolved.placeholder && resolved.problem).toMatch(new RegExp(`Stage ${stage} needs the image digest CI pushed: pass -c imageDigest=sha256:`));
  });

  test.each(['latest', 'sha256:abc', `SHA256:${'a'.repeat(64)}`, `123.dkr.ecr.us-east-1.amazonaws.com/openclaw@sha256:${'a'.repeat(64)}`])(
    'GIVEN the malformed digest %s WHEN resolved THEN it throws naming the value',
    (bad) => {
      expect(() => resolveImageDigest('dev', bad)).toThrow(new RegExp(`imageDigest=${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not an image digest`));
    },
  );
});

describe('capacity plan', () => {
  test('GIVEN a 300 s latency goal and 60 s tasks WHEN planned THEN each worker may hold a backlog of 5', () => {
    const plan = deriveCapacityPlan({ ...loadStageConfig('prod').services.worker, acceptableLatencySeconds: 300, averageTaskSeconds: 60, maxTasks: 50 });
    expect(plan).toEqual({ backlogPerTaskTarget: 5, queueAgeAlarmSeconds: 300 + 60 + 120, p99TaskSecondsAlarm: 300, maxThroughputPerMinute: 50, surgeDrainSeconds: 3000 });
  });

  test('GIVEN tasks as long as the latency goal WHEN planned THEN the target never drops below one', () => {
    const plan = deriveCapacityPlan({ ...loadStageConfig('prod').services.worker, acceptableLatencySeconds: 90, averageTaskSeconds: 90 });
    expect(plan.backlogPerTaskTarget).toBe(1);
  });
});
