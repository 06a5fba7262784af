import { Match } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadStageConfig, readSiteConfig } from '../../lib/config';
import { ENV, PORTS, loadGatewayConfig } from '../../runtime/src/shared/config';
import { METRICS } from '../../runtime/src/shared/metrics-contract';
import { parseGatewayLimitsJson } from '../../runtime/src/shared/gateway-limits';
import { TEST_CONFIG_DIR, resourcesOf, synthStage } from './support/synth-stage';

const prod = synthStage('prod');
const services = prod.templates.services;
const servicesJson = prod.json.services;
const ROLES = ['intake', 'worker', 'gateway'] as const;
const STAGES = ['dev', 'staging', 'prod'] as const;

type Container = Record<string, any>;
function container(role: (typeof ROLES)[number]): Container {
  const found = resourcesOf(servicesJson, 'AWS::ECS::TaskDefinition')
    .map(([, p]) => p['ContainerDefinitions'][0] as Container)
    .find((c) => c['Name'] === role);
  if (found === undefined) throw new Error(`no ${role} container`);
  return found;
}
function env(role: (typeof ROLES)[number]): Record<string, unknown> {
  return Object.fromEntries((container(role)['Environment'] as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
}
function ecsService(logicalPrefix: string): Record<string, any> {
  const found = resourcesOf(servicesJson, 'AWS::ECS::Service').find(([id]) => id.startsWith(logicalPrefix));
  if (found === undefined) throw new Error(`no service ${logicalPrefix}`);
  return found[1];
}

describe('task definitions (prod)', () => {
  test.each(ROLES)('GIVEN the %s task WHEN synthesized THEN it runs its entry point as uid 1000 on a read-only root with a tmpfs /tmp', (role) => {
    expect(container(role)).toMatchObject({
      Command: ['node', `dist/${role}.js`],
      User: '1000',
      ReadonlyRootFilesystem: true,
      Essential: true,
      LinuxParameters: {
        InitProcessEnabled: true,
        Tmpfs: [{ ContainerPath: '/tmp', Size: 64, MountOptions: ['rw', 'noexec', 'nosuid', 'nodev'] }],
      },
      HealthCheck: { Command: ['CMD', 'node', 'dist/healthcheck.js', role], Interval: 15, Timeout: 5, Retries: 3, StartPeriod: 30 },
    });
  });

  test.each(ROLES)('GIVEN the %s task WHEN sized THEN CPU and memory are the prod config (which compose.prod-like.yml mirrors)', (role) => {
    const td = resourcesOf(servicesJson, 'AWS::ECS::TaskDefinition').find(([, p]) => p['ContainerDefinitions'][0].Name === role)?.[1];
    const sizing = loadStageConfig('prod').services[role];
    expect({ cpu: Number(td?.['Cpu']), memory: Number(td?.['Memory']) }).toEqual({ cpu: sizing.cpu, memory: sizing.memoryMiB });
  });

  test('GIVEN the worker WHEN stopped THEN it gets the Fargate maximum of 120 s to drain, and its drain ends 30 s earlier', () => {
    expect(container('worker')['StopTimeout']).toBe(120);
    expect(env('worker')[ENV.drainTimeoutMs]).toBe('90000');
  });

  test('GIVEN the gateway WHEN stopped THEN it gets 120 s and drains calls in flight for all but the last 10 s of it', () => {
    expect(container('gateway')['StopTimeout']).toBe(120);
    expect(env('gateway')[ENV.gatewayDrainMs]).toBe('110000');
  });

  test('GIVEN a stage spend ceiling WHEN synthesized THEN the gateway gets it, the runtime parses it, and a page alarm watches 80% of it', () => {
    const ceiling = loadStageConfig('prod').services.gateway.spendCeilingUsdPerHour;
    expect(ceiling).toBeGreaterThan(0);
    expect(env('gateway')[ENV.gatewaySpendUsdPerHour]).toBe(String(ceiling));
    const config = loadGatewayConfig({ [ENV.stage]: 'prod', [ENV.region]: 'us-east-1', [ENV.tasksTable]: 'tasks', [ENV.gatewaySpendUsdPerHour]: String(env('gateway')[ENV.gatewaySpendUsdPerHour]) });
    expect(config.spendCeilingUsdPerHour).toBe(ceiling);
    prod.templates.observability.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: METRICS.gatewaySpendCeilingUse,
      Threshold: 0.8,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmDescription: Match.stringLikeRegexp('^\\[page\\]'),
    });
  });

  test.each(ROLES)('GIVEN the %s task WHEN synthesized THEN the heap is capped at 75%% of task memory and source maps stay on', (role) => {
    const td = resourcesOf(servicesJson, 'AWS::ECS::TaskDefinition').find(([, p]) => p['ContainerDefinitions'][0].Name === role);
    const memory = Number(td?.[1]['Memory']);
    expect(env(role)['NODE_OPTIONS']).toBe(`--enable-source-maps --max-old-space-size=${Math.floor(memory * 0.75)}`);
  });

  test.each(STAGES.flatMap((stage) => ROLES.map((role) => [stage, role] as const)))(
    'GIVEN the %s %s task WHEN its NODE_OPTIONS replaces the image\'s THEN every flag the image sets but the heap size is kept',
    (stage, role) => {
      const dockerfile = readFileSync(join(__dirname, '../../Dockerfile'), 'utf8');
      const imageOptions = /NODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1];
      expect(imageOptions).toContain('--enable-source-maps');
      const kept = (imageOptions ?? '').split(/\s+/).filter((flag) => flag !== '' && !flag.startsWith('--max-old-space-size='));
      const td = resourcesOf(synthStage(stage).json.services, 'AWS::ECS::TaskDefinition').find(([, p]) => p['ContainerDefinitions'][0].Name === role)?.[1];
      const environment = td?.['ContainerDefinitions'][0]['Environment'] as Array<{ Name: string; Value: string }>;
      const taskOptions = environment.find((e) => e.Name === 'NODE_OPTIONS')?.Value.split(/\s+/) ?? [];
      for (const flag of kept) expect(taskOptions).toContain(flag);
    },
  );

  test('GIVEN the environments WHEN read THEN secrets appear only as ARNs, never as values', () => {
    const all = ROLES.flatMap((r) => Object.keys(env(r)));
    expect(all).not.toContain(ENV.anthropicApiKey);
    expect(all).not.toContain(ENV.apiKeys);
    expect(env('gateway')[ENV.anthropicSecretArn]).toEqual({ 'Fn::ImportValue': expect.stringMatching(/AnthropicApiKey/) });
    expect(env('intake')[ENV.apiKeysSecretArn]).toEqual({ 'Fn::ImportValue': expect.stringMatching(/IntakeApiKeys/) });
    for (const role of ROLES) expect(container(role)['Secrets']).toBeUndefined();
  });

  test('GIVEN the worker WHEN configured THEN it matches the queues it consumes and knows its gateway and kill switch', () => {
    const e = env('worker');
    expect(e).toMatchObject({
      [ENV.stage]: 'prod',
      [ENV.port]: String(PORTS.worker),
      [ENV.gatewayUrl]: `http://gateway:${PORTS.gateway}`,
      [ENV.killSwitchParam]: { Ref: expect.stringMatching(/^WorkerKillSwitch/) },
      [ENV.visibilityTimeoutSeconds]: '300',
      [ENV.maxReceiveCount]: '5',
      [ENV.model]: 'claude-sonnet-5',
    });
    expect(e[ENV.queueUrlHigh]).toEqual({ 'Fn::ImportValue': expect.stringMatching(/QueuesHigh/) });
    expect(e[ENV.queueUrlNormal]).toEqual({ 'Fn::ImportValue': expect.stringMatching(/QueuesNormal/) });
  });

  test('GIVEN the intake and worker WHEN configured THEN both get the stage\'s task retention as TASK_RETENTION_DAYS', () => {
    const days = String(loadStageConfig('prod').data.taskRetentionDays);
    expect(days).toBe('90');
    expect(env('intake')[ENV.taskRetentionDays]).toBe(days);
    expect(env('worker')[ENV.taskRetentionDays]).toBe(days);
    expect(env('gateway')).not.toHaveProperty(ENV.taskRetentionDays);
  });

  test('GIVEN the kill switch WHEN created THEN it is an SSM parameter that only accepts on/off, starting off', () => {
    services.hasResourceProperties('AWS::SSM::Parameter', { Name: '/openclaw/prod/worker/kill-switch', Value: 'off', AllowedPattern: '^(on|off)$' });
    services.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^WorkerTaskTaskDefinitionTaskRole') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'ssm:GetParameter', Resource: Match.objectLike({ 'Fn::Join': Match.anyValue() }) })]) },
    });
  });
});

describe('rollouts (prod)', () => {
  test.each(['Intake', 'Gateway', 'Worker'])('GIVEN the %s service WHEN deployed THEN the circuit breaker and its rollback alarm roll back', (name) => {
    expect(ecsService(`${name}Service`)['DeploymentConfiguration']).toMatchObject({
      DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      Alarms: { AlarmNames: [expect.stringMatching(new RegExp(`^openclaw-prod-${name.toLowerCase()}-`))], Enable: true, Rollback: true },
      MinimumHealthyPercent: 100,
      MaximumPercent: 200,
    });
  });

  test('GIVEN the rollback alarms WHEN synthesized THEN each exists under the name the service watches', () => {
    for (const name of ['openclaw-prod-intake-5xx', 'openclaw-prod-gateway-5xx', 'openclaw-prod-worker-completion']) {
      services.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: name, TreatMissingData: 'notBreaching' });
    }
    services.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'openclaw-prod-worker-completion', ComparisonOperator: 'LessThanThreshold', Threshold: 90 });
  });

  test('GIVEN the intake WHEN deployed THEN it is a canary with bake time that shifts weights on the production rule', () => {
    const intake = ecsService('IntakeService');
    expect(intake['DeploymentConfiguration']).toMatchObject({ Strategy: 'CANARY', CanaryConfiguration: { CanaryPercent: 10, CanaryBakeTimeInMinutes: 10 }, BakeTimeInMinutes: 10 });
    expect(intake['LoadBalancers'][0]).toMatchObject({
      ContainerName: 'intake',
      ContainerPort: PORTS.intake,
      AdvancedConfiguration: { AlternateTargetGroupArn: { Ref: expect.stringMatching(/^IntakeGreen/) }, ProductionListenerRule: { Ref: expect.stringMatching(/^IntakeProductionRule/) } },
    });
    services.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Actions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: { Ref: Match.stringLikeRegexp('^IntakeBlue') }, Weight: 100 },
              { TargetGroupArn: { Ref: Match.stringLikeRegexp('^IntakeGreen') }, Weight: 0 },
            ],
          },
        },
      ],
    });
  });

  test('GIVEN a scaled service WHEN deployed THEN the template sets no desired count that would reset it', () => {
    for (const [, props] of resourcesOf(servicesJson, 'AWS::ECS::Service')) expect(props['DesiredCount']).toBeUndefined();
  });
});

describe('networking and load balancing (prod)', () => {
  test('GIVEN every service WHEN placed THEN it runs in private subnets without a public IP', () => {
    for (const [, props] of resourcesOf(servicesJson, 'AWS::ECS::Service')) {
      const vpc = props['NetworkConfiguration']['AwsvpcConfiguration'];
      expect(vpc['AssignPublicIp']).toBe('DISABLED');
      expect(JSON.stringify(vpc['Subnets'])).toMatch(/tasksSubnet/);
    }
  });

  test('GIVEN the security groups WHEN read THEN only the gateway (model API) and the workers (webhooks, HTTPS) may reach the internet', () => {
    const openEgress = resourcesOf(servicesJson, 'AWS::EC2::SecurityGroup')
      .filter(([, p]) => (p['SecurityGroupEgress'] ?? []).some((r: Record<string, unknown>) => r['CidrIp'] === '0.0.0.0/0' || r['CidrIpv6'] === '::/0'))
      .map(([id]) => id)
      .sort();
    // The agent canary's candidate pool is the same worker construct, with the same egress.
    expect(openEgress).toEqual([expect.stringMatching(/^CanaryWorkerTaskSg/), expect.stringMatching(/^GatewayTaskSg/), expect.stringMatching(/^WorkerTaskSg/)]);
    services.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^LLM gateway'),
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }],
    });
    const egress = resourcesOf(servicesJson, 'AWS::EC2::SecurityGroupEgress').map(([, p]) => p);
    expect(egress.filter((r) => r['CidrIp'] !== undefined)).toEqual([]);
    // Intake, stable workers and the canary's candidate workers: S3 and DynamoDB endpoints only.
    expect(egress.filter((r) => r['DestinationPrefixListId'] !== undefined).map((r) => r['DestinationPrefixListId']).sort()).toEqual(
      ['pl-02cd2c6b', 'pl-02cd2c6b', 'pl-02cd2c6b', 'pl-63a5400a', 'pl-63a5400a', 'pl-63a5400a'],
    );
  });

  test('GIVEN the worker WHEN it calls the model THEN it reaches the gateway on 8090 through Service Connect', () => {
    expect(ecsService('GatewayService')['ServiceConnectConfiguration']).toMatchObject({
      Enabled: true,
      Services: [{ PortName: 'gateway', DiscoveryName: 'gateway', ClientAliases: [{ DnsName: 'gateway', Port: PORTS.gateway }] }],
    });
    expect(ecsService('WorkerService')['ServiceConnectConfiguration']).toMatchObject({ Enabled: true });
    expect(ecsService('WorkerService')['ServiceConnectConfiguration']['Services']).toBeUndefined();
    services.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: PORTS.gateway,
      ToPort: PORTS.gateway,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GatewayTaskSg'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WorkerTaskSg'), 'GroupId'] },
    });
  });

  test('GIVEN the public ALB WHEN synthesized THEN it terminates TLS with the configured certificate and logs access', () => {
    services.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      Certificates: [{ CertificateArn: 'arn:aws:acm:us-east-1:410987654321:certificate/7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a' }],
    });
    services.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' }]),
    });
    services.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]),
    });
    services.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
  });
});

describe('scaling', () => {
  test('GIVEN prod workers WHEN they scale THEN it is on arrivals (lib/constructs/worker-demand-scaling.ts), not on backlog per task', () => {
    const policies = resourcesOf(prod.json.services, 'AWS::ApplicationAutoScaling::ScalingPolicy').filter(([id]) => id.startsWith('Worker'));
    expect(policies.some(([, p]) => p['PolicyType'] === 'TargetTrackingScaling')).toBe(false);
    for (const family of ['Onset', 'Confirm', 'Release']) expect(policies.filter(([id]) => id.startsWith(`WorkerDemand${family}`)).length).toBeGreaterThan(1);
    expect(policies.filter(([id]) => id.startsWith('WorkerDemandSteady')).map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(['WorkerDemandSteadyOut', 'WorkerDemandSteadyIn']);
    // Application Auto Scaling allows 50 scaling policies per scalable target.
    expect(policies.length).toBeLessThanOrEqual(50);
    services.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 400, ScalableDimension: 'ecs:service:DesiredCount' });
  });

  test('GIVEN no running worker and a backlog WHEN evaluated THEN a step policy adds one worker', () => {
    services.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: { AdjustmentType: 'ChangeInCapacity', StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }] },
    });
    services.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF((FILL(high, 0) + FILL(normal, 0)) > 0 AND FILL(tasks, 0) == 0, 1, 0)' })]),
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^WorkerScaleFromZero') }],
    });
  });

  test('GIVEN the gateway and intake WHEN scaling THEN they track CPU and requests per target', () => {
    services.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' }, TargetValue: 50 }),
    });
    services.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ PredefinedMetricSpecification: Match.objectLike({ PredefinedMetricType: 'ALBRequestCountPerTarget' }), TargetValue: 1000 }),
    });
  });

  test('GIVEN prod workers WHEN placed THEN they run on-demand; staging workers run mostly on Spot', () => {
    expect(ecsService('WorkerService')['CapacityProviderStrategy']).toEqual([{ CapacityProvider: 'FARGATE', Weight: 1 }]);
    const staging = resourcesOf(synthStage('staging').json.services, 'AWS::ECS::Service').find(([id]) => id.startsWith('WorkerService'));
    expect(staging?.[1]['CapacityProviderStrategy']).toEqual([
      { CapacityProvider: 'FARGATE_SPOT', Weight: 3 },
      { CapacityProvider: 'FARGATE', Weight: 1 },
    ]);
  });

  test('GIVEN the cluster WHEN created THEN Container Insights (RunningTaskCount) and Fargate Spot are available', () => {
    services.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
    services.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', { CapacityProviders: ['FARGATE', 'FARGATE_SPOT'] });
  });
});

describe('gateway limits (prod)', () => {
  test('GIVEN limits in the stage config WHEN synthesized THEN the gateway receives them as GATEWAY_LIMITS and the runtime parses them', () => {
    const raw = env('gateway')[ENV.gatewayLimits];
    expect(typeof raw).toBe('string');
    const parsed = parseGatewayLimitsJson(raw as string);
    const configured = loadStageConfig('prod', readSiteConfig(TEST_CONFIG_DIR, 'prod')).services.gateway.limits as { tiers: Record<string, Record<string, unknown>> };
    expect(Object.keys(parsed.tiers).sort()).toEqual(Object.keys(configured.tiers).sort());
    for (const [name, tier] of Object.entries(configured.tiers)) expect(parsed.tiers[name]).toMatchObject(tier);
  });
});

describe('least privilege (prod)', () => {
  test('GIVEN the gateway task role WHEN read THEN it may read only the Anthropic secret and the gateway table (and send spans)', () => {
    const policy = resourcesOf(servicesJson, 'AWS::IAM::Policy').find(([id]) => id.startsWith('GatewayTaskTaskDefinitionTaskRole'));
    const statements = policy?.[1]['PolicyDocument']['Statement'] as Array<Record<string, any>>;
    const byResource = Object.fromEntries(statements.map((st) => [JSON.stringify(st['Resource']), st['Action']]));
    const resources = Object.keys(byResource);
    expect(resources).toHaveLength(4);
    expect(resources.filter((r) => /StoreGateway/.test(r))).toHaveLength(1); // table items
    expect(resources.filter((r) => /DataKey/.test(r))).toHaveLength(1); // its key, via DynamoDB only
    const secret = resources.find((r) => /AnthropicApiKey/.test(r));
    // Sorted: @aws-cdk/aws-iam:minimizePolicies orders actions.
    // Only the read the runtime makes (test/contracts/iam-network.test.ts checks it against the recorded calls).
    expect(secret === undefined ? undefined : [byResource[secret]].flat()).toEqual(['secretsmanager:GetSecretValue']);
    expect(byResource['"*"']).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  test('GIVEN the worker task role WHEN read THEN it may protect only its own cluster\'s tasks and read only the webhook-signing secret, never the intake key list', () => {
    const policy = resourcesOf(servicesJson, 'AWS::IAM::Policy').find(([id]) => id.startsWith('WorkerTaskTaskDefinitionTaskRole'));
    const statements = policy?.[1]['PolicyDocument']['Statement'] as Array<Record<string, any>>;
    const protection = statements.find((st) => JSON.stringify(st['Action']).includes('TaskProtection'));
    expect(protection?.['Action']).toEqual(['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection']);
    expect(JSON.stringify(protection?.['Resource'])).toMatch(/:task\/.*Cluster.*\/\*/);
    const secretReads = statements.filter((st) => JSON.stringify(st['Action']).includes('secretsmanager:'));
    expect(secretReads).toHaveLength(1);
    expect([secretReads[0]?.['Action']].flat()).toEqual(['secretsmanager:GetSecretValue']);
    expect(JSON.stringify(secretReads[0]?.['Resource'])).toMatch(/WebhookSigningKeys/);
    expect(env('worker')[ENV.webhookSigningSecretArn]).toEqual(secretReads[0]?.['Resource']);
    expect(env('worker')[ENV.apiKeysSecretArn]).toBeUndefined();
    expect(JSON.stringify(statements)).not.toMatch(/IntakeApiKeys|AnthropicApiKey/);
  });

  test('GIVEN the data key WHEN used by tasks THEN only through SQS or DynamoDB', () => {
    const kmsStatements = resourcesOf(servicesJson, 'AWS::IAM::Policy').flatMap(([, p]) =>
      (p['PolicyDocument']['Statement'] as Array<Record<string, any>>).filter((s) => JSON.stringify(s['Action']).includes('kms:')),
    );
    expect(kmsStatements.length).toBeGreaterThan(0);
    for (const s of kmsStatements) expect(Object.keys(s['Condition']['StringEquals'])).toEqual(['kms:ViaService']);
  });
});

describe('tracing sidecar (prod)', () => {
  test.each(ROLES)('GIVEN the %s task WHEN it starts THEN an ADOT collector from the ECR pull-through cache starts first and receives OTLP on localhost', (role) => {
    const td = resourcesOf(servicesJson, 'AWS::ECS::TaskDefinition').find(([, p]) => p['ContainerDefinitions'][0].Name === role)?.[1];
    const collector = (td?.['ContainerDefinitions'] as Container[]).find((c) => c['Name'] === 'otel-collector');
    expect(collector).toMatchObject({ Essential: false, User: '10001', ReadonlyRootFilesystem: true, MemoryReservation: 64 });
    expect(JSON.stringify(collector?.['Image'])).toMatch(/410987654321\.dkr\.ecr\.us-east-1\..*\/ecr-public\/aws-observability\/aws-otel-collector:v\d+\.\d+\.\d+/);
    const config = (collector?.['Environment'] as Array<{ Name: string; Value: string }>).find((e) => e.Name === 'AOT_CONFIG_CONTENT')?.Value;
    expect(config).toContain('endpoint: 127.0.0.1:4318');
    expect(config).toContain('exporters: [awsxray]');
    expect(container(role)['DependsOn']).toEqual([{ ContainerName: 'otel-collector', Condition: 'START' }]);
    expect(env(role)['OTEL_EXPORTER_OTLP_ENDPOINT']).toBe('http://localhost:4318');
  });

  test('GIVEN the collector image WHEN pulled THEN the registry caches public.ecr.aws and X-Ray is reached through an endpoint', () => {
    prod.templates.registry.hasResourceProperties('AWS::ECR::PullThroughCacheRule', { EcrRepositoryPrefix: 'ecr-public', UpstreamRegistryUrl: 'public.ecr.aws' });
    const endpoints = resourcesOf(prod.json.network, 'AWS::EC2::VPCEndpoint').map(([, p]) => JSON.stringify(p['ServiceName']));
    expect(endpoints.some((e) => e.includes('.xray'))).toBe(true);
  });
});
