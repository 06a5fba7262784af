import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { trace } from '@opentelemetry/api';
import { createAwsClients } from '../shared/aws-clients';
import { definedOnly, loadIntakeConfig } from '../shared/config';
import { listen } from '../shared/http';
import { intakeResponseMetrics, tracedHandler } from '../shared/http-tracing';
import { createLogger } from '../shared/logger';
import { EmfMetrics } from '../shared/metrics';
import { DIMENSIONS, SERVICES } from '../shared/metrics-contract';
import { TRACER } from '../shared/spans';
import { ApiKeyAuthenticator, loadApiKeys } from './api-keys';
import { createIntakeHandler } from './app';

async function main(): Promise<void> {
  const config = loadIntakeConfig(process.env);
  const logger = createLogger({ service: 'intake', stage: config.stage }, { level: config.logLevel });
  const { dynamo, sqs } = createAwsClients(config.aws);
  const auth = new ApiKeyAuthenticator(
    await loadApiKeys({
      ...definedOnly('secretArn', config.apiKeysSecretArn),
      ...definedOnly('json', config.apiKeysJson),
      secrets: new SecretsManagerClient({ region: config.aws.region }),
    }),
  );
  const metrics = new EmfMetrics({ dimensions: { [DIMENSIONS.stage]: config.stage, [DIMENSIONS.service]: SERVICES.intake } });
  const handler = tracedHandler(createIntakeHandler({ dynamo, sqs, tableName: config.tasksTable, queues: config.queues, auth, logger }), {
    tracer: trace.getTracer(TRACER.intake),
    metrics,
    onResponse: intakeResponseMetrics(metrics),
  });
  const server = await listen(handler, config.port, logger);
  logger.info('intake.started', { port: server.port });
  const shutdown = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
