import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { loadApiKeys } from '../shared/api-keys';
import { createAwsClients } from '../shared/aws-clients';
import { definedOnly, loadWorkerConfig } from '../shared/config';
import { listen, sendJson } from '../shared/http';
import { createLogger } from '../shared/logger';
import { TaskStore } from '../shared/task-store';
import { WebhookNotifier } from '../shared/webhooks';
import { SERVICES } from '../shared/metrics-contract';
import { startServiceObservability } from '../shared/observability';
import { promptDirectories } from '../shared/observability-config';
import { PromptRegistry } from '../shared/prompt-registry';
import { createWorker } from './create-worker';
import { anthropicModelClient } from './model-client';
import { runMain, stopOnSignals } from '../shared/process-lifecycle';

/** The health check fails when no poll loop made progress for this long (a paused worker still ticks). */
const STALL_MS = 120_000;

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  const d = config.durability;
  const logger = createLogger({ service: 'worker', stage: config.stage }, { level: config.logLevel });
  const { dynamo, sqs } = createAwsClients(config.aws);
  // Spans by OTLP to the collector sidecar, EMF metrics on stdout; prompts from PROMPTS_DIR, ./prompts or dist/prompts.
  const obs = startServiceObservability(SERVICES.worker, config.stage, process.env);
  const prompts = PromptRegistry.fromFirstDirectory(promptDirectories(obs.config, process.cwd(), __dirname));
  let notifier: WebhookNotifier | undefined;
  if (config.apiKeysSecretArn !== undefined || config.apiKeysJson !== undefined) {
    const keys = await loadApiKeys({
      ...definedOnly('secretArn', config.apiKeysSecretArn),
      ...definedOnly('json', config.apiKeysJson),
      secrets: new SecretsManagerClient({ region: config.aws.region }),
    });
    const secrets = new Map(keys.map((k) => [k.name, k.webhookSecret]));
    notifier = new WebhookNotifier({
      store: new TaskStore({ client: dynamo, tableName: config.tasksTable, retentionDays: config.taskRetentionDays }),
      secretFor: (name) => secrets.get(name),
      logger,
    });
  }
  const consumer = createWorker({
    metrics: obs.metrics,
    prompts,
    prices: obs.config.prices,
    dynamo,
    sqs,
    tableName: config.tasksTable,
    queues: config.queues,
    model: anthropicModelClient({ baseURL: config.gatewayUrl }),
    modelName: config.model,
    agentVersion: config.agentVersion,
    logger,
    taskRetentionDays: config.taskRetentionDays,
    ...(config.workerId !== undefined ? { workerId: config.workerId } : {}),
    leaseMs: d.leaseMs,
    visibilityTimeoutSeconds: d.visibilityTimeoutSeconds,
    waitTimeSeconds: d.waitTimeSeconds,
    maxReceiveCount: d.maxReceiveCount,
    concurrency: d.concurrency,
    contextTokens: d.contextTokens,
    maxToolOutputBytes: d.maxToolOutputBytes,
    protectionExpiresMinutes: d.protectionExpiresMinutes,
    ...definedOnly('notifier', notifier),
    ...(d.heartbeatMs !== undefined ? { heartbeatMs: d.heartbeatMs } : {}),
    ...(d.ecsAgentUri !== undefined ? { ecsAgentUri: d.ecsAgentUri } : {}),
    ...(d.killSwitchParam !== undefined
      ? { killSwitch: { ssm: new SSMClient({ region: config.aws.region }), parameterName: d.killSwitchParam, intervalMs: d.killSwitchIntervalMs } }
      : {}),
  });
  const health = await listen(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/stats') {
      // The soak measures the heap after a forced GC (node --expose-gc).
      const gc = (globalThis as { gc?: () => void }).gc;
      if ((req.url ?? '').includes('gc=1') && gc !== undefined) gc();
      return sendJson(res, 200, { ...consumer.stats(), memory: process.memoryUsage() });
    }
    const stale = Date.now() - consumer.lastTick > STALL_MS;
    if (path === '/health' && consumer.isRunning && !stale) return sendJson(res, 200, { status: 'ok' });
    sendJson(res, 503, { status: consumer.isRunning ? 'stalled' : 'stopped' });
  }, config.port, logger);
  await consumer.start();
  logger.info('worker.started', { port: health.port, promptVersion: prompts.version, agentVersion: config.agentVersion, model: config.model, concurrency: d.concurrency, killSwitch: d.killSwitchParam !== undefined, protection: d.ecsAgentUri !== undefined });

  stopOnSignals(async (signal) => {
    logger.info('worker.draining', { signal, drainTimeoutMs: d.drainTimeoutMs });
    const drained = await consumer.stop(d.drainTimeoutMs);
    await health.close();
    await obs.shutdown();
    logger.info('worker.stopped', { drained });
  });
}

runMain(main);
