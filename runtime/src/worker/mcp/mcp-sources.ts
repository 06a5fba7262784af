import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { McpServerConfig } from '../../shared/mcp-servers';
import { McpToolSource } from './mcp-tool-source';

/**
 * One tool source per configured MCP server; a server's bearer token is read from Secrets Manager
 * each time the source (re)connects, so a rotated token is picked up without a restart.
 */
export function mcpToolSources(servers: readonly McpServerConfig[], secrets: Pick<SecretsManagerClient, 'send'>, logger: Logger): McpToolSource[] {
  return servers.map((server) => {
    const arn = server.authSecretArn;
    const token =
      arn === undefined
        ? undefined
        : async (): Promise<string> => {
            const out = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));
            if (out.SecretString === undefined || out.SecretString.trim() === '') {
              throw new ConfigError(`MCP server ${server.name}: secret ${arn} has no token; set it with: aws secretsmanager put-secret-value --secret-id ${arn} --secret-string <token>`, { server: server.name });
            }
            return out.SecretString.trim();
          };
    return new McpToolSource({ server, logger, ...(token !== undefined ? { token } : {}) });
  });
}
