import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadGatewayConfig } from '../shared/config';
import { ConfigError } from '../shared/errors';
import { listen } from '../shared/http';
import { createLogger } from '../shared/logger';
import { secretsManagerKeyProvider, staticKeyProvider, type ApiKeyProvider } from './api-key-provider';
import { createGatewayHandler } from './proxy';

async function main(): Promise<void> {
  const config = loadGatewayConfig(process.env);
  const logger = createLogger({ service: 'gateway', stage: config.stage }, { level: config.logLevel });
  let keys: ApiKeyProvider;
  if (config.anthropicSecretArn !== undefined) {
    keys = secretsManagerKeyProvider({ client: new SecretsManagerClient({ region: config.aws.region }), secretArn: config.anthropicSecretArn });
  } else if (config.anthropicApiKey !== undefined) {
    keys = staticKeyProvider(config.anthropicApiKey);
  } else if (config.stage === 'local') {
    keys = staticKeyProvider('local-stub');
  } else {
    throw new ConfigError('Invalid gateway configuration: set ANTHROPIC_SECRET_ARN to the secret holding the Anthropic API key', { stage: config.stage });
  }
  const server = await listen(createGatewayHandler({ upstreamUrl: config.upstreamUrl, keys, logger }), config.port, logger);
  logger.info('gateway.started', { port: server.port, upstream: config.upstreamUrl });
  const shutdown = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
