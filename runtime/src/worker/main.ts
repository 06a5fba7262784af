import { createAwsClients } from '../shared/aws-clients';
import { startCallRecording } from '../shared/call-recording';
import { CallbackUrlPolicy } from '../shared/callback-url-policy';
import { definedOnly, loadWorkerConfig } from '../shared/config';
import { listen } from '../shared/http';
import { createLogger } from '../shared/logger';
import { TaskStore } from '../shared/task-store';
import { WebhookNotifier } from '../shared/webhooks';
import { signingKeyLookup, webhookSigningKeySource } from '../shared/webhook-signing-keys';
import { SERVICES } from '../shared/metrics-contract';
import { startServiceObservability } from '../shared/observability';
import { promptDirectories } from '../shared/observability-config';
import { PromptRegistry } from '../shared/prompt-registry';
import { createWorker } from './create-worker';
import { startDeadLetterSweeper } from './dead-letter-wiring';
import { startApprovalSweeper } from './approval-wiring';
import { workerHealthHandler } from './health-server';
import { anthropicModelClient } from './model-client';
import { builtinTools } from './tools/catalog';
import { mcpToolSources } from './mcp/mcp-sources';
import { runMain, stopOnSignals } from '../shared/process-lifecycle';

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  const d = config.durability;
  const recording = startCallRecording('worker', config.callRecordFile);
  const logger = createLogger({ service: 'worker', stage: config.stage }, { level: config.logLevel });
  const { dynamo, sqs, secrets, ssm } = createAwsClients(config.aws, { service: 'worker', ...definedOnly('sink', recording?.sink) });
  // Spans by OTLP to the collector sidecar, EMF metrics on stdout; prompts from PROMPTS_DIR, ./prompts or dist/prompts.
  const obs = startServiceObservability(SERVICES.worker, config.stage, process.env);
  const prompts = PromptRegistry.fromFirstDirectory(promptDirectories(obs.config, process.cwd(), __dirname));
  // The worker reads only the webhook-signing keys, never the intake's API-key list.
  const signingKeys = webhookSigningKeySource({
    ...definedOnly('secretArn', config.webhookSigningSecretArn),
    ...definedOnly('json', config.webhookSigningKeysJson),
    secrets,
    logger,
  });
  const notifier =
    signingKeys === undefined
      ? undefined
      : new WebhookNotifier({
          store: new TaskStore({ client: dynamo, tableName: config.tasksTable, retentionDays: config.taskRetentionDays }),
          secretFor: signingKeyLookup(signingKeys),
          ...(config.callbackHttpHosts.length > 0 ? { policy: new CallbackUrlPolicy({ allowHttpHosts: config.callbackHttpHosts }) } : {}),
          logger,
        });
  const toolSources = mcpToolSources(config.mcpServers, secrets, logger);
  await Promise.all(toolSources.map((source) => source.start()));
  const consumer = createWorker({
    toolSources,
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
    tools: builtinTools(config.tools, { dynamo, tableName: config.tasksTable }),
    loopThresholds: config.loopThresholds,
    approvalTimeoutMs: config.approvals.timeoutMs,
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
      ? { killSwitch: { ssm, parameterName: d.killSwitchParam, intervalMs: d.killSwitchIntervalMs } }
      : {}),
  });
  const health = await listen(workerHealthHandler(consumer), config.port, logger);
  await consumer.start();
  const sweeper = startDeadLetterSweeper({ ...config, maxReceiveCount: d.maxReceiveCount }, { dynamo, sqs, logger, ...definedOnly('notifier', notifier) });
  const approvalSweeper = startApprovalSweeper(config, { dynamo, sqs, logger, metrics: obs.metrics });
  logger.info('worker.started', { port: health.port, promptVersion: prompts.version, agentVersion: config.agentVersion, model: config.model, concurrency: d.concurrency, killSwitch: d.killSwitchParam !== undefined, protection: d.ecsAgentUri !== undefined });

  stopOnSignals(async (signal) => {
    logger.info('worker.draining', { signal, drainTimeoutMs: d.drainTimeoutMs });
    const [drained] = await Promise.all([consumer.stop(d.drainTimeoutMs), sweeper?.stop(), approvalSweeper.stop()]);
    await Promise.all(toolSources.map((source) => source.stop()));
    await health.close();
    await obs.shutdown();
    logger.info('worker.stopped', { drained });
  });
}

runMain(main);
