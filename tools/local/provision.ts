import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueUrls } from '../../runtime/src/shared/config';

export interface LocalResources {
  readonly tasksTable: string;
  readonly gatewayTable: string;
  readonly queues: QueueUrls;
  readonly dlqUrl: string;
}

export interface ProvisionOptions {
  /** Prefix for every name, so several systems (or tests) can share one emulator. */
  readonly prefix: string;
  /** @default 300 */
  readonly visibilityTimeoutSeconds?: number;
  /** @default 5 */
  readonly maxReceiveCount?: number;
}

/** A table with the pk/sk string key every openclaw table uses. */
export async function createTable(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
}

/** Create the tables and queues the CDK data stack creates in AWS, with the same shapes. */
export async function provisionLocalResources(dynamo: DynamoDBClient, sqs: SQSClient, options: ProvisionOptions): Promise<LocalResources> {
  const { prefix } = options;
  const tasksTable = `${prefix}-tasks`;
  const gatewayTable = `${prefix}-gateway`;
  await Promise.all([createTable(dynamo, tasksTable), createTable(dynamo, gatewayTable)]);
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-tasks-dlq` }));
  const dlqUrl = dlq.QueueUrl as string;
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
  const redrivePolicy = JSON.stringify({ deadLetterTargetArn: attrs.Attributes?.QueueArn, maxReceiveCount: options.maxReceiveCount ?? 5 });
  const queue = async (name: string) =>
    (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `${prefix}-${name}`,
          Attributes: { VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 300), RedrivePolicy: redrivePolicy },
        }),
      )
    ).QueueUrl as string;
  const [high, normal] = await Promise.all([queue('tasks-high'), queue('tasks-normal')]);
  return { tasksTable, gatewayTable, queues: { high, normal }, dlqUrl };
}
