import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createAwsClients } from '../shared/aws-clients';
import { loadIntakeConfig } from '../shared/config';
import { ConfigError } from '../shared/errors';
import { listen } from '../shared/http';
import { createLogger } from '../shared/logger';
import { ApiKeyAuthenticator, parseApiKeys } from './api-keys';
import { createIntakeHandler } from './app';

async function loadKeysJson(secretArn: string | undefined, json: string | undefined, region: string): Promise<{ json: string; source: string }> {
  if (json !== undefined) return { json, source: 'INTAKE_API_KEYS' };
  if (secretArn === undefined) throw new ConfigError('No API keys configured', {});
  const out = await new SecretsManagerClient({ region }).send(new GetSecretValueCommand({ SecretId: secretArn }));
  return { json: out.SecretString ?? '', source: `secret ${secretArn}` };
}

async function main(): Promise<void> {
  const config = loadIntakeConfig(process.env);
  const logger = createLogger({ service: 'intake', stage: config.stage }, { level: config.logLevel });
  const { dynamo, sqs } = createAwsClients(config.aws);
  const keys = await loadKeysJson(config.apiKeysSecretArn, config.apiKeysJson, config.aws.region);
  const auth = new ApiKeyAuthenticator(parseApiKeys(keys.json, keys.source));
  const server = await listen(createIntakeHandler({ dynamo, sqs, tableName: config.tasksTable, queues: config.queues, auth, logger }), config.port, logger);
  logger.info('intake.started', { port: server.port });
  const shutdown = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
