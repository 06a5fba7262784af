/**
 * npm run redrive -- --stage <local|dev|staging|prod> (--task <id> ... | --all) [--region <r>] [--deadline <seconds>]
 *
 * After a fix, moves dead-lettered task messages back to their lanes and reopens their rows
 * (tools/delivery/redrive.ts). The stage's resources are the worker's own environment contract:
 * TASKS_TABLE, QUEUE_URL_HIGH, QUEUE_URL_NORMAL and DEAD_LETTER_QUEUE_URL, as set on the worker's
 * task definition (`aws ecs describe-task-definition --task-definition <worker family>` lists them),
 * and TASK_RETENTION_DAYS, plus AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS for the local emulators.
 * Exit codes: 0 everything selected was redriven, 1 some were skipped or not found, 2 bad arguments.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createAwsClients } from '../../runtime/src/shared/aws-clients';
import { definedOnly, ENV, taskRetentionDaysSchema } from '../../runtime/src/shared/config';
import { DeadLetterRows } from '../../runtime/src/shared/dead-letter-rows';
import { describeIssues } from '../../runtime/src/shared/zod-issues';
import { redriveDeadLetters } from './redrive';

const USAGE = 'usage: npm run redrive -- --stage <local|dev|staging|prod> (--task <id> [--task <id> ...] | --all) [--region <r>] [--deadline <seconds>]';

const queueUrl = z.string().regex(/^https?:\/\/[^\s/]+\/\S+$/, 'must be a queue URL (see the worker task definition)');
const envSchema = z.object({
  [ENV.tasksTable]: z.string().min(3),
  [ENV.queueUrlHigh]: queueUrl,
  [ENV.queueUrlNormal]: queueUrl,
  [ENV.deadLetterQueueUrl]: queueUrl,
  [ENV.dynamoEndpoint]: z.string().optional(),
  [ENV.sqsEndpoint]: z.string().optional(),
  [ENV.region]: z.string().min(1).optional(),
  // A reopened row restarts its retention: the stage's, not a default.
  [ENV.taskRetentionDays]: taskRetentionDaysSchema,
});

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        stage: { type: 'string' },
        task: { type: 'string', multiple: true },
        all: { type: 'boolean' },
        region: { type: 'string' },
        deadline: { type: 'string' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  const stage = z.enum(['local', 'dev', 'staging', 'prod']).safeParse(values.stage);
  const tasks = values.task ?? [];
  if (!stage.success || (tasks.length === 0) === (values.all !== true)) {
    process.stderr.write(`--stage must be local, dev, staging or prod, and exactly one of --task or --all is required\n${USAGE}\n`);
    return 2;
  }
  const env = envSchema.safeParse(process.env);
  if (!env.success) {
    process.stderr.write(`The ${stage.data} worker's resources are needed in the environment: ${describeIssues(env.error)}\n${USAGE}\n`);
    return 2;
  }
  const e = env.data;
  const region = values.region ?? e[ENV.region] ?? 'us-east-1';
  const { dynamo, sqs } = createAwsClients({
    region,
    ...definedOnly('dynamoEndpoint', e[ENV.dynamoEndpoint]),
    ...definedOnly('sqsEndpoint', e[ENV.sqsEndpoint]),
  });
  try {
    const report = await redriveDeadLetters({
      sqs,
      deadLetterQueueUrl: e[ENV.deadLetterQueueUrl],
      lanes: { high: e[ENV.queueUrlHigh], normal: e[ENV.queueUrlNormal] },
      rows: new DeadLetterRows({ client: dynamo, tableName: e[ENV.tasksTable], retentionDays: e[ENV.taskRetentionDays] }),
      select: values.all === true ? { all: true } : { taskIds: new Set(tasks) },
      ...(values.deadline !== undefined ? { deadlineMs: Number(values.deadline) * 1000 } : {}),
      onProgress: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(
      `${stage.data}: redriven ${report.redriven.length}, skipped ${report.skipped.length}, malformed ${report.malformed}, not found ${report.notFound.length}${report.notFound.length > 0 ? ` (${report.notFound.join(', ')})` : ''}\n`,
    );
    return report.skipped.length + report.notFound.length === 0 ? 0 : 1;
  } finally {
    dynamo.destroy();
    sqs.destroy();
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

export { main as redriveCli };
