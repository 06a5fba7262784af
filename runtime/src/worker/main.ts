import { createAwsClients } from '../shared/aws-clients';
import { loadWorkerConfig } from '../shared/config';
import { listen, sendJson } from '../shared/http';
import { createLogger } from '../shared/logger';
import { createWorker } from './create-worker';
import { anthropicModelClient } from './model-client';

/** ECS gives 120 s at most between SIGTERM and SIGKILL; leave room to release and exit. */
const DRAIN_MS = 90_000;

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  const logger = createLogger({ service: 'worker', stage: config.stage }, { level: config.logLevel });
  const { dynamo, sqs } = createAwsClients(config.aws);
  const consumer = createWorker({
    dynamo,
    sqs,
    tableName: config.tasksTable,
    queues: config.queues,
    model: anthropicModelClient({ baseURL: config.gatewayUrl }),
    modelName: config.model,
    logger,
    ...(config.workerId !== undefined ? { workerId: config.workerId } : {}),
  });
  const health = await listen(async (req, res) => {
    const stale = Date.now() - consumer.lastTick > 120_000;
    if (req.url === '/health' && consumer.isRunning && !stale) return sendJson(res, 200, { status: 'ok' });
    sendJson(res, 503, { status: consumer.isRunning ? 'stalled' : 'stopped' });
  }, config.port, logger);
  consumer.start();
  logger.info('worker.started', { port: health.port });

  const shutdown = (signal: string) => {
    logger.info('worker.draining', { signal });
    void consumer.stop(DRAIN_MS).then(async () => {
      await health.close();
      logger.info('worker.stopped');
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
