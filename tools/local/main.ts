import { z } from 'zod';
import { ENV, PORTS, taskRetentionDaysSchema } from '../../runtime/src/shared/config';
import { createLogger } from '../../runtime/src/shared/logger';
import { describeIssues } from '../../runtime/src/shared/zod-issues';
import { parseGatewayLimitsJson } from '../../runtime/src/shared/gateway-limits';
import { startLocalSystem } from './system';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EmfMetrics } from '../../runtime/src/shared/metrics';
import { DIMENSIONS } from '../../runtime/src/shared/metrics-contract';
import { PromptRegistry } from '../../runtime/src/shared/prompt-registry';
import { DEFAULT_TRACE_DIR, FileSpanExporter } from '../../runtime/src/shared/span-store';
import { startTracing } from '../../runtime/src/shared/tracing';

/** `npm start`: the local system's own knobs, validated here at its edge. */
const localEnv = z.object({
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  INTAKE_PORT: z.coerce.number().int().min(0).max(65535).default(PORTS.intake),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(PORTS.gateway),
  WORKERS: z.coerce.number().int().min(1).max(16).default(2),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  MODEL: z.string().min(1).default('claude-sonnet-5'),
  PROMPTS_DIR: z.string().min(1).default('prompts'),
  GATEWAY_LIMITS: z.string().optional(),
  [ENV.taskRetentionDays]: taskRetentionDaysSchema,
});

/** Local EMF lines go to a file, not the console, so the startup banner and logs stay readable. */
const METRICS_DIR = '.local/metrics';

async function main(): Promise<void> {
  const parsed = localEnv.safeParse(process.env);
  if (!parsed.success) throw new Error(`Invalid environment for npm start: ${describeIssues(parsed.error)}`);
  const env = parsed.data;
  // A local system's logs die with its data, so the decision log may show what the model was given.
  const logger = createLogger({}, { level: env.LOG_LEVEL, userContent: 'keep' });
  // Spans go to the local store that `npm run trace -- <taskId>` reads.
  const tracing = startTracing({ serviceName: 'openclaw-local', stage: 'local', exporters: [new FileSpanExporter(DEFAULT_TRACE_DIR)] });
  mkdirSync(METRICS_DIR, { recursive: true });
  const metricsFile = join(METRICS_DIR, 'emf.jsonl');
  const metrics = new EmfMetrics({ dimensions: { [DIMENSIONS.stage]: 'local' }, write: (line) => appendFileSync(metricsFile, line) });
  const prompts = PromptRegistry.fromDirectory(env.PROMPTS_DIR);
  process.stdout.write('Starting DynamoDB Local, fauxqs, the model, gateway, workers and intake...\n');
  const system = await startLocalSystem({
    logger,
    ...(env.ANTHROPIC_API_KEY !== undefined ? { anthropicApiKey: env.ANTHROPIC_API_KEY } : {}),
    intakePort: env.INTAKE_PORT,
    gatewayPort: env.GATEWAY_PORT,
    workers: env.WORKERS,
    taskRetentionDays: env[ENV.taskRetentionDays],
    model: env.MODEL,
    gatewayLimits: parseGatewayLimitsJson(env.GATEWAY_LIMITS),
    metrics,
    prompts,
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
      `  prompts  ${env.PROMPTS_DIR} (version ${prompts.version})`,
      `  traces   ${DEFAULT_TRACE_DIR}, metrics ${metricsFile} (EMF)`,
      '',
      'Submit a task:',
      `  curl -s -X POST ${system.intakeUrl}/v1/tasks -H 'authorization: Bearer ${system.apiKey}' -H 'content-type: application/json' -d '{"prompt":"Multiply two numbers and note the result"}'`,
      'Then follow it:',
      `  curl -s ${system.intakeUrl}/v1/tasks/<taskId> -H 'authorization: Bearer ${system.apiKey}'`,
      'See why it behaved as it did (span tree, tokens, tool calls):',
      '  npm run trace -- <taskId>',
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  const shutdown = () => {
    process.stdout.write('Stopping...\n');
    void system
      .stop()
      .then(() => Promise.all([metrics.flush(), tracing.shutdown()]))
      .then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
