import { createAwsClients } from '../shared/aws-clients';
import { definedOnly, loadIntakeConfig } from '../shared/config';
import { listen } from '../shared/http';
import { intakeResponseMetrics, tracedHandler } from '../shared/http-tracing';
import { createLogger } from '../shared/logger';
import { SERVICES } from '../shared/metrics-contract';
import { startServiceObservability } from '../shared/observability';
import { apiKeySource } from '../shared/api-keys';
import { SecretBackedAuthenticator } from './api-keys';
import { INTAKE_MAX_SOCKETS, createIntakeHandler } from './app';
import { SharedKeyRateLimiter } from './shared-rate-limiter';
import { runMain, stopOnSignals } from '../shared/process-lifecycle';
import { startCallRecording } from '../shared/call-recording';
import { CallbackUrlPolicy } from '../shared/callback-url-policy';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { CloudWatchDemandSink } from '../shared/cloudwatch-demand-sink';
import { QueueDemandPublisher } from '../shared/queue-demand-publisher';
import { ArrivalCounter } from '../shared/queue-demand';
import { countArrivals } from './arrival-count';
import type { IntakeConfig } from '../shared/config';
import type { Logger } from '../shared/logger';
import { CanaryRouter } from './canary-router';
import { SsmCanaryShare, fixedCanaryShare } from './canary-share';

/** The agent canary's routing: the candidate's lanes and its share (SSM parameter, or fixed locally). */
function canaryRouter(config: IntakeConfig, ssm: SSMClient, logger: Logger): CanaryRouter {
  const canary = config.canary;
  if (canary === undefined) return new CanaryRouter({ stable: config.queues });
  const share =
    canary.shareParam !== undefined
      ? new SsmCanaryShare({ ssm, parameterName: canary.shareParam, logger, cacheMs: canary.shareCacheMs })
      : fixedCanaryShare(canary.share ?? 0);
  logger.info('canary.enabled', { shareParam: canary.shareParam, share: canary.share });
  return new CanaryRouter({ stable: config.queues, candidate: { queues: canary.queues, share } });
}

async function main(): Promise<void> {
  const config = loadIntakeConfig(process.env);
  const recording = startCallRecording('intake', config.callRecordFile);
  const logger = createLogger({ service: 'intake', stage: config.stage }, { level: config.logLevel });
  // Each accepted task has a row write and a message in flight at once: sockets for a few hundred submissions.
  const { dynamo, sqs, secrets, ssm, cloudwatch } = createAwsClients(config.aws, {
    service: 'intake',
    maxSockets: INTAKE_MAX_SOCKETS,
    ...definedOnly('sink', recording?.sink),
  });
  const arrivals = new ArrivalCounter();
  if (config.queueDemandIntervalMs !== undefined) countArrivals(sqs, [config.queues.high, config.queues.normal], arrivals);
  // Read at run time with a short cache: a first deploy starts before anyone has put the keys, and
  // answers not-ready (naming the secret and the command) until they are there; no redeploy needed.
  const auth = new SecretBackedAuthenticator(
    apiKeySource({
      ...definedOnly('secretArn', config.apiKeysSecretArn),
      ...definedOnly('json', config.apiKeysJson),
      secrets,
      logger,
    }),
  );
  await auth.notReadyReason(); // read once at start, so an unset secret is logged before the first request
  // Spans by OTLP to the collector sidecar, EMF metrics on stdout.
  const obs = startServiceObservability(SERVICES.intake, config.stage, process.env);
  const metrics = obs.metrics;
  // Counted in the tasks table, so a key's rate holds for the whole fleet, not per replica.
  const rateLimiter = new SharedKeyRateLimiter({ client: dynamo, tableName: config.tasksTable, logger });
  const router = canaryRouter(config, ssm, logger);
  const intake = createIntakeHandler({
    router,
    dynamo,
    sqs,
    tableName: config.tasksTable,
    queues: config.queues,
    auth,
    readyChecks: [() => auth.notReadyReason()],
    logger,
    rateLimiter,
    taskRetentionDays: config.taskRetentionDays,
    agents: config.agents,
    batchWrites: config.batchWrites,
    ...(config.callbackHttpHosts.length > 0 ? { callbackPolicy: new CallbackUrlPolicy({ allowHttpHosts: config.callbackHttpHosts }) } : {}),
  });
  const handler = tracedHandler(intake, {
    tracer: obs.tracer,
    metrics,
    onResponse: intakeResponseMetrics(metrics),
  });
  const server = await listen(handler, config.port, logger);
  logger.info('intake.started', { port: server.port, agents: config.agents.agents.map((a) => a.name), defaultAgent: config.agents.defaultAgent });
  // The worker fleet's fast scale-out signal: the intake always runs, even when no worker does.
  const demand =
    config.queueDemandIntervalMs === undefined
      ? undefined
      : new QueueDemandPublisher({
          sqs,
          queueUrls: [config.queues.high, config.queues.normal],
          sink: new CloudWatchDemandSink(cloudwatch, config.stage),
          arrivals,
          logger,
          intervalMs: config.queueDemandIntervalMs,
        });
  demand?.start();
  stopOnSignals(async () => {
    await demand?.stop();
    await server.close();
    await obs.shutdown();
  });
}

runMain(main);
