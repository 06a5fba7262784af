import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourcesOf } from '../../../runtime/src/shared/aws-call-recorder';
import { createAwsClients } from '../../../runtime/src/shared/aws-clients';
import type { CallRecord } from '../../../runtime/src/shared/call-record';
import { startCallRecording } from '../../../runtime/src/shared/call-recording';
import { loadWorkerConfig } from '../../../runtime/src/shared/config';
import { createTestAws, emulatorEndpoints, type TestAws } from '../../support/aws';

describe('call recording: AWS calls by SDK middleware, connections by diagnostics channel', () => {
  let aws: TestAws;
  beforeAll(async () => {
    aws = await createTestAws();
  });
  afterAll(() => aws.destroy());

  const clientsWith = (sink?: (r: CallRecord) => void) => {
    const e = emulatorEndpoints();
    return createAwsClients({ region: 'us-east-1', dynamoEndpoint: e.dynamo, sqsEndpoint: e.sqs }, { service: 'worker', ...(sink !== undefined ? { sink } : {}) });
  };

  test('GIVEN no sink WHEN clients are created THEN no recorder is in their middleware stacks (it costs nothing when off)', () => {
    const { dynamo, sqs, secrets, ssm } = clientsWith();
    for (const client of [dynamo, sqs, secrets, ssm]) expect(client.middlewareStack.identify().join(' ')).not.toContain('openclawCallRecorder');
  });

  test('GIVEN a sink WHEN the service reads, transacts and sends THEN each call is recorded once with its action, resource ARNs and endpoint', async () => {
    const records: CallRecord[] = [];
    const { dynamo, sqs } = clientsWith((r) => records.push(r));
    const table = aws.resources.tasksTable;
    await dynamo.send(new GetCommand({ TableName: table, Key: { pk: 'x', sk: 'y' } }));
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { pk: randomUUID(), sk: 'a' }, ConditionExpression: 'attribute_not_exists(pk)' } },
          { ConditionCheck: { TableName: table, Key: { pk: 'x', sk: 'y' }, ConditionExpression: 'attribute_not_exists(pk)' } },
        ],
      }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: aws.resources.queues.normal, MessageBody: '{}' }));
    const dynamoHost = new URL(emulatorEndpoints().dynamo).host;
    const queueName = aws.resources.queues.normal.split('/').pop();
    expect(records).toEqual([
      { kind: 'aws', service: 'worker', awsService: 'dynamodb', action: 'GetItem', resources: [{ arn: `arn:aws:dynamodb:us-east-1:000000000000:table/${table}` }], endpoint: dynamoHost },
      {
        kind: 'aws',
        service: 'worker',
        awsService: 'dynamodb',
        action: 'TransactWriteItems',
        resources: [
          { arn: `arn:aws:dynamodb:us-east-1:000000000000:table/${table}`, operation: 'Put' },
          { arn: `arn:aws:dynamodb:us-east-1:000000000000:table/${table}`, operation: 'ConditionCheck' },
        ],
        endpoint: dynamoHost,
      },
      { kind: 'aws', service: 'worker', awsService: 'sqs', action: 'SendMessage', resources: [{ arn: expect.stringMatching(new RegExp(`^arn:aws:sqs:us-east-1:\\d+:${queueName}$`)) }], endpoint: new URL(emulatorEndpoints().sqs).host },
    ]);
  });

  test('GIVEN inputs of each service WHEN resources are derived THEN they are the ARNs IAM evaluates', () => {
    expect(resourcesOf('dynamodb', 'Query', { TableName: 't', IndexName: 'byStatus' }, 'eu-west-1', '111122223333')).toEqual([{ arn: 'arn:aws:dynamodb:eu-west-1:111122223333:table/t/index/byStatus' }]);
    expect(resourcesOf('sqs', 'ReceiveMessage', { QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/444455556666/lane' }, 'us-east-1', '111122223333')).toEqual([{ arn: 'arn:aws:sqs:eu-west-1:444455556666:lane' }]);
    expect(resourcesOf('secretsmanager', 'GetSecretValue', { SecretId: 'keys' }, 'eu-west-1', '111122223333')).toEqual([{ arn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:keys' }]);
    expect(resourcesOf('ssm', 'GetParameter', { Name: '/openclaw/prod/kill' }, 'eu-west-1', '111122223333')).toEqual([{ arn: 'arn:aws:ssm:eu-west-1:111122223333:parameter/openclaw/prod/kill' }]);
  });

  test('GIVEN CALL_RECORD_FILE WHEN the process opens connections THEN each destination is appended once as JSON lines; unset, recording is off', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'openclaw-calls-')), 'calls.jsonl');
    const base = { TASKS_TABLE: 'tasks', QUEUE_URL_HIGH: 'http://127.0.0.1:1/0/h', QUEUE_URL_NORMAL: 'http://127.0.0.1:1/0/n', GATEWAY_URL: 'http://127.0.0.1:2' };
    expect(startCallRecording('worker', loadWorkerConfig(base).callRecordFile)).toBeUndefined();
    const recording = startCallRecording('gateway', loadWorkerConfig({ ...base, CALL_RECORD_FILE: file }).callRecordFile);
    const server = createServer((_, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      for (let i = 0; i < 3; i++) await (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })).text();
    } finally {
      recording?.stop();
      server.close();
    }
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CallRecord);
    expect(lines).toEqual([{ kind: 'connection', service: 'gateway', address: '127.0.0.1', port }]);
  });
});
