import { z } from 'zod';
import { PORTS } from '../shared/config';
import { createLogger } from '../shared/logger';
import { describeIssues } from '../shared/zod-issues';
import { startLocalSystem } from './system';

/** `npm start`: the local system's own knobs, validated here at its edge. */
const localEnv = z.object({
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  INTAKE_PORT: z.coerce.number().int().min(0).max(65535).default(PORTS.intake),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(PORTS.gateway),
  WORKERS: z.coerce.number().int().min(1).max(16).default(2),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  MODEL: z.string().min(1).default('claude-sonnet-5'),
});

async function main(): Promise<void> {
  const parsed = localEnv.safeParse(process.env);
  if (!parsed.success) throw new Error(`Invalid environment for npm start: ${describeIssues(parsed.error)}`);
  const env = parsed.data;
  const logger = createLogger({}, { level: env.LOG_LEVEL });
  process.stdout.write('Starting DynamoDB Local, fauxqs, the model, gateway, workers and intake...\n');
  const system = await startLocalSystem({
    logger,
    ...(env.ANTHROPIC_API_KEY !== undefined ? { anthropicApiKey: env.ANTHROPIC_API_KEY } : {}),
    intakePort: env.INTAKE_PORT,
    gatewayPort: env.GATEWAY_PORT,
    workers: env.WORKERS,
    model: env.MODEL,
  });
  const model = system.stub !== undefined ? `stub model at ${system.stub.url} (set ANTHROPIC_API_KEY to use the real API)` : 'Anthropic API';
  process.stdout.write(
    [
      '',
      'openclaw-deploy is running locally:',
      `  intake   ${system.intakeUrl}`,
      `  gateway  ${system.gatewayUrl} -> ${model}`,
      `  workers  ${system.workers.length}`,
      `  DynamoDB ${system.dynamoEndpoint} (table ${system.resources.tasksTable})`,
      `  SQS      ${system.sqsEndpoint}`,
      '',
      'Submit a task:',
      `  curl -s -X POST ${system.intakeUrl}/v1/tasks -H 'authorization: Bearer ${system.apiKey}' -H 'content-type: application/json' -d '{"prompt":"Multiply two numbers and note the result"}'`,
      'Then follow it:',
      `  curl -s ${system.intakeUrl}/v1/tasks/<taskId> -H 'authorization: Bearer ${system.apiKey}'`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  const shutdown = () => {
    process.stdout.write('Stopping...\n');
    void system.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
