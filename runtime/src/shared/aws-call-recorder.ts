import type { AwsCallRecord, CallRecordSink, RecordedResource, RecordedService } from './call-record';

/** The account the emulators (DynamoDB Local, fauxqs) use; AWS calls without an account in their input get it. */
export const LOCAL_ACCOUNT = '000000000000';

export interface CallRecorderOptions {
  readonly service: RecordedService;
  readonly region: string;
  readonly sink: CallRecordSink;
  /** For ARNs whose input names no account (tables, secrets by name, parameters). @default LOCAL_ACCOUNT */
  readonly account?: string;
}

/** The structural part of an SDK v3 client this needs (any service's client has it). */
export interface RecordableClient {
  readonly middlewareStack: { add: (...args: never[]) => void };
}

type Input = Record<string, unknown>;

const IAM_PREFIX: Readonly<Record<string, string>> = {
  DynamoDBClient: 'dynamodb',
  SQSClient: 'sqs',
  SecretsManagerClient: 'secretsmanager',
  SSMClient: 'ssm',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function tableArn(name: string, region: string, account: string, index?: string): string {
  const base = name.startsWith('arn:') ? name : `arn:aws:dynamodb:${region}:${account}:table/${name}`;
  return index === undefined ? base : `${base}/index/${index}`;
}

/** `https://sqs.<region>.amazonaws.com/<account>/<name>` (or an emulator's URL of that shape) -> the queue's ARN. */
export function queueArnFromUrl(url: string, region: string): string {
  const match = /^https?:\/\/([^/]+)\/([^/]+)\/([^/?]+)/.exec(url);
  if (match === null) return `arn:aws:sqs:${region}:*:${url}`;
  const [, host = '', account = '', name = ''] = match;
  const hostRegion = /^sqs\.([a-z0-9-]+)\./.exec(host)?.[1];
  return `arn:aws:sqs:${hostRegion !== undefined && /[a-z]/.test(hostRegion) ? hostRegion : region}:${account}:${name}`;
}

function dynamoResources(action: string, input: Input, region: string, account: string): RecordedResource[] {
  const table = str(input['TableName']);
  if (table !== undefined) return [{ arn: tableArn(table, region, account, str(input['IndexName'])) }];
  const items = input['TransactItems'];
  if (Array.isArray(items)) {
    return items.flatMap((item: Input) =>
      Object.entries(item).flatMap(([operation, body]) => {
        const name = str((body as Input | undefined)?.['TableName']);
        return name === undefined ? [] : [{ arn: tableArn(name, region, account), operation }];
      }),
    );
  }
  const requestItems = input['RequestItems'];
  if (requestItems !== null && typeof requestItems === 'object') {
    return Object.keys(requestItems).map((name) => ({ arn: tableArn(name, region, account) }));
  }
  return [{ arn: `arn:aws:dynamodb:${region}:${account}:${action === 'ListTables' ? '*' : 'table/*'}` }];
}

/** The resources an input names, as ARNs; `*` for calls that name none. */
export function resourcesOf(awsService: string, action: string, input: Input, region: string, account: string): RecordedResource[] {
  switch (awsService) {
    case 'dynamodb':
      return dynamoResources(action, input, region, account);
    case 'sqs': {
      const url = str(input['QueueUrl']);
      if (url !== undefined) return [{ arn: queueArnFromUrl(url, region) }];
      const name = str(input['QueueName']);
      return [{ arn: `arn:aws:sqs:${region}:${account}:${name ?? '*'}` }];
    }
    case 'secretsmanager': {
      const id = str(input['SecretId']);
      if (id === undefined) return [{ arn: '*' }];
      return [{ arn: id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${region}:${account}:secret:${id}` }];
    }
    case 'ssm': {
      const names = str(input['Name']) !== undefined ? [input['Name'] as string] : Array.isArray(input['Names']) ? (input['Names'] as string[]) : [];
      if (names.length === 0) return [{ arn: '*' }];
      return names.map((n) => ({ arn: n.startsWith('arn:') ? n : `arn:aws:ssm:${region}:${account}:parameter/${n.replace(/^\//, '')}` }));
    }
    default:
      return [{ arn: '*' }];
  }
}

interface BuildArgs {
  readonly input?: Input;
  readonly request?: { readonly hostname?: string; readonly port?: number; readonly protocol?: string };
}

/**
 * Record every call `client` sends: added at the build step, after the endpoint is resolved and
 * before the retry loop, so the host is known and a retried call counts once. Only ever attached
 * when recording is on; a client without it carries no cost.
 */
export function attachCallRecorder(client: RecordableClient, options: CallRecorderOptions): void {
  const account = options.account ?? LOCAL_ACCOUNT;
  const add = client.middlewareStack.add as unknown as (
    mw: (next: (args: BuildArgs) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => (args: BuildArgs) => Promise<unknown>,
    opts: { step: 'build'; name: string; priority: 'low' },
  ) => void;
  add.call(
    client.middlewareStack,
    (next, context) => (args) => {
      try {
        const clientName = context.clientName ?? 'UnknownClient';
        const awsService = IAM_PREFIX[clientName] ?? clientName.replace(/Client$/, '').toLowerCase();
        const action = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const request = args.request;
        const port = request?.port ?? (request?.protocol === 'http:' ? 80 : 443);
        const record: AwsCallRecord = {
          kind: 'aws',
          service: options.service,
          awsService,
          action,
          resources: resourcesOf(awsService, action, args.input ?? {}, options.region, account),
          endpoint: `${request?.hostname ?? 'unknown'}:${port}`,
        };
        options.sink(record);
      } catch {
        // Recording is a test aid: it never fails the call.
      }
      return next(args);
    },
    { step: 'build', name: 'openclawCallRecorder', priority: 'low' },
  );
}
