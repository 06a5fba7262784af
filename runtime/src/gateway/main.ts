import { definedOnly, loadGatewayConfig } from '../shared/config';
import { ConfigError, errorMessage } from '../shared/errors';
import { listen, sendJson } from '../shared/http';
import { createLogger } from '../shared/logger';
import { secretsManagerKeyProvider, staticKeyProvider, type ApiKeyProvider } from './api-key-provider';
import { createAwsClients } from '../shared/aws-clients';
import { startCallRecording } from '../shared/call-recording';
import { tracedHandler } from '../shared/http-tracing';
import { SERVICES } from '../shared/metrics-contract';
import { startServiceObservability } from '../shared/observability';
import { DynamoBreakerStore } from './breaker-store';
import { RequestDrain } from './drain';
import { gatewayMetricsFrom } from './gateway-metrics';
import { DynamoLimitStore } from './limit-store';
import { createGatewayHandler } from './proxy';
import { runMain, stopOnSignals } from '../shared/process-lifecycle';

/** How long the per-request counters are summed before one EMF record is written (CloudWatch's finest standard resolution is 60 s). */
const METRICS_BATCH_MS = 10_000;

async function main(): Promise<void> {
  const config = loadGatewayConfig(process.env);
  const recording = startCallRecording('gateway', config.callRecordFile);
  const logger = createLogger({ service: 'gateway', stage: config.stage }, { level: config.logLevel });
  const { dynamo, secrets } = createAwsClients(config.aws, { service: 'gateway', ...definedOnly('sink', recording?.sink) });
  let keys: ApiKeyProvider;
  if (config.anthropicSecretArn !== undefined) {
    keys = secretsManagerKeyProvider({ client: secrets, secretArn: config.anthropicSecretArn });
  } else if (config.anthropicApiKey !== undefined) {
    keys = staticKeyProvider(config.anthropicApiKey);
  } else if (config.stage === 'local') {
    keys = staticKeyProvider('local-stub');
  } else {
    throw new ConfigError('Invalid gateway configuration: set ANTHROPIC_SECRET_ARN to the secret holding the Anthropic API key', { stage: config.stage });
  }
  // Limits and circuits must hold across replicas, so every deployed stage shares them in the table.
  let stores = {};
  if (config.gatewayTable !== undefined) {
    const table = { client: dynamo, tableName: config.gatewayTable };
    stores = { limitStore: new DynamoLimitStore(table), breakerStore: new DynamoBreakerStore(table) };
  } else if (config.stage !== 'local') {
    throw new ConfigError('Invalid gateway configuration: set GATEWAY_TABLE so replicas share rate limits and circuit state', { stage: config.stage });
  }
  // Spans by OTLP to the collector sidecar (continuing the worker's chat spans), EMF metrics on stdout.
  const obs = startServiceObservability(SERVICES.gateway, config.stage, process.env);
  // Counters summed over 10 s: one EMF record per metric and lane every 10 s, not one per request.
  const metrics = gatewayMetricsFrom(obs.metrics, { batchMs: METRICS_BATCH_MS });
  const proxy = createGatewayHandler({
    upstreamUrl: config.upstreamUrl,
    keys,
    logger,
    limits: config.limits,
    metrics,
    ...stores,
    ...(config.spendCeilingUsdPerHour !== undefined ? { spendCeilingUsdPerHour: config.spendCeilingUsdPerHour } : {}),
  });
  // A first deploy starts before anyone has put the Anthropic key: /health stays 200 (ECS keeps the
  // task), /ready and model calls answer 503 naming the secret and the command, until it is set.
  const keyProblem = async (): Promise<string | undefined> => {
    try {
      await keys.get();
      return undefined;
    } catch (err) {
      return errorMessage(err);
    }
  };
  const startProblem = await keyProblem();
  if (startProblem !== undefined) logger.warn('secret.not_ready', { message: startProblem });
  const handler = tracedHandler(
    async (req, res) => {
      if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/ready') {
        const problem = await keyProblem();
        return sendJson(res, problem === undefined ? 200 : 503, problem === undefined ? { status: 'ready' } : { status: 'not_ready', reasons: [problem] });
      }
      return proxy(req, res);
    },
    { tracer: obs.tracer, metrics: obs.metrics },
  );
  const drain = new RequestDrain();
  const server = await listen(drain.wrap(handler), config.port, logger);
  logger.info('gateway.started', { port: server.port, upstream: config.upstreamUrl, tiers: Object.keys(config.limits.tiers), shared: config.gatewayTable !== undefined });
  stopOnSignals(async (signal) => {
    // Never cut calls in flight first: a cut call is retried by its worker and paid twice.
    logger.info('gateway.draining', { signal, inFlight: drain.active, drainMs: config.drainMs });
    const result = await drain.drain(server.server, config.drainMs);
    logger.info('gateway.drained', { ...result });
    metrics.flush(true);
    await obs.shutdown();
  });
}

runMain(main);
