import { z } from 'zod';
import { ENV, PORTS, taskRetentionDaysSchema } from '../../runtime/src/shared/config';
import { createLogger } from '../../runtime/src/shared/logger';
import { describeIssues } from '../../runtime/src/shared/zod-issues';
import { parseGatewayLimitsJson } from '../../runtime/src/shared/gateway-limits';
import { startLocalSystem } from './system';
import { LocalCanaryEvaluator } from './canary-evaluator';
import { CANARY_SHARE_PATTERN, parseCanaryShare } from '../../runtime/src/shared/agent-version';
import { MutableCanaryShare } from '../../runtime/src/intake/canary-share';
import { DEFAULT_CANARY_THRESHOLDS } from '../../lib/config/canary';
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
  // Agent canary: set CANARY_SHARE (percent) to run a candidate pool next to the stable one.
  CANARY_SHARE: z.string().regex(new RegExp(CANARY_SHARE_PATTERN), 'must be a percentage from 0 to 100').optional(),
  CANARY_PROMPTS_DIR: z.string().min(1).optional(),
  CANARY_WORKERS: z.coerce.number().int().min(1).max(16).default(1),
  CANARY_MODEL: z.string().min(1).optional(),
  // Local runs see few tasks: a smaller sample and window than a stage's (never below the schema's floor).
  CANARY_MIN_TASKS: z.coerce.number().int().min(10).default(10),
  CANARY_WINDOW_MINUTES: z.coerce.number().int().min(5).default(5),
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
  const emf = new EmfMetrics({ dimensions: { [DIMENSIONS.stage]: 'local' }, write: (line) => appendFileSync(metricsFile, line) });
  const prompts = PromptRegistry.fromDirectory(env.PROMPTS_DIR);
  const canaryShare = parseCanaryShare(env.CANARY_SHARE);
  const share = canaryShare === undefined ? undefined : new MutableCanaryShare(canaryShare);
  const candidatePrompts = env.CANARY_PROMPTS_DIR === undefined ? undefined : PromptRegistry.fromDirectory(env.CANARY_PROMPTS_DIR, 'CANARY_PROMPTS_DIR');
  // The local stand-in for the comparison alarm and its rollback: the same rule, on the workers' own metrics.
  const evaluator =
    share === undefined
      ? undefined
      : new LocalCanaryEvaluator({ share, logger, thresholds: { ...DEFAULT_CANARY_THRESHOLDS, minTasks: env.CANARY_MIN_TASKS, windowMinutes: env.CANARY_WINDOW_MINUTES } });
  const metrics = evaluator === undefined ? emf : evaluator.tap(emf);
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
    ...(share === undefined
      ? {}
      : {
          canary: {
            share,
            workers: env.CANARY_WORKERS,
            ...(candidatePrompts === undefined ? {} : { prompts: candidatePrompts }),
            ...(env.CANARY_MODEL === undefined ? {} : { model: env.CANARY_MODEL }),
          },
        }),
  });
  evaluator?.start();
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
      ...(share === undefined
        ? []
        : [
            `  canary   ${env.CANARY_SHARE} % of new tasks to ${env.CANARY_WORKERS} candidate worker(s), prompts ${env.CANARY_PROMPTS_DIR ?? env.PROMPTS_DIR} (version ${(candidatePrompts ?? prompts).version}); ` +
              `rolled back (share 0, log "canary.rolled_back") when worse than stable over ${env.CANARY_WINDOW_MINUTES} min with >= ${env.CANARY_MIN_TASKS} tasks each`,
          ]),
      `  traces   ${DEFAULT_TRACE_DIR}, metrics ${metricsFile} (EMF)`,
      '',
      'Submit a task:',
      `  curl -s -X POST ${system.intakeUrl}/v1/tasks -H 'authorization: Bearer ${system.apiKey}' -H 'content-type: application/json' -d '{"prompt":"Multiply two numbers and note the result"}'`,
      'Then follow it:',
      `  curl -s ${system.intakeUrl}/v1/tasks/<taskId> -H 'authorization: Bearer ${system.apiKey}'`,
      'Human approval: a prompt with [approval] makes the model call publish_announcement, which waits (WAITING_APPROVAL) for a decision:',
      `  curl -s -X POST ${system.intakeUrl}/v1/tasks/<taskId>/approvals/<pendingApproval.approvalId> -H 'authorization: Bearer ${system.apiKey}' -H 'content-type: application/json' -d '{"decision":"approve","reason":"looks right"}'`,
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
      .then(() => {
        evaluator?.stop();
        return Promise.all([metrics.flush(), tracing.shutdown()]);
      })
      .then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
