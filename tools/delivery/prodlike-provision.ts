/**
 * Creates the tables and queues the CDK data stack creates in AWS, on the emulators named by
 * AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS. The compose files run it once before the
 * services start (`depends_on: condition: service_completed_successfully`).
 *
 *   PREFIX=openclaw-local npx tsx tools/delivery/prodlike-provision.ts
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { provisionLocalResources } from '../local/provision';
import { describeIssues } from '../../runtime/src/shared/zod-issues';

const envSchema = z.object({
  AWS_ENDPOINT_URL_DYNAMODB: z.url(),
  AWS_ENDPOINT_URL_SQS: z.url(),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  PREFIX: z.string().regex(/^[a-z0-9-]{3,40}$/, 'use 3-40 lowercase letters, digits and dashes').default('openclaw-local'),
});

async function main(): Promise<number> {
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) {
    process.stderr.write(`prodlike-provision: ${describeIssues(parsed.error)}\n`);
    return 2;
  }
  const env = parsed.data;
  // Emulators accept any credentials; these never reach AWS.
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const dynamo = new DynamoDBClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, credentials });
  const sqs = new SQSClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_SQS, credentials });
  try {
    const resources = await provisionLocalResources(dynamo, sqs, { prefix: env.PREFIX });
    process.stdout.write(`${JSON.stringify({ event: 'provisioned', ...resources })}\n`);
    return 0;
  } catch (err) {
    if (err instanceof Error && err.name === 'ResourceInUseException') {
      // A restarted provision container against emulators that kept their state.
      process.stdout.write(`${JSON.stringify({ event: 'already_provisioned', prefix: env.PREFIX })}\n`);
      return 0;
    }
    throw err;
  } finally {
    dynamo.destroy();
    sqs.destroy();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`prodlike-provision failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
