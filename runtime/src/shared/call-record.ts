import { appendFileSync } from 'node:fs';

/** Which service made a call: the identity whose task role and security group must allow it. */
export type RecordedService = 'intake' | 'worker' | 'gateway';

/** One resource an AWS call touched, with the item-level operation for calls that carry several (TransactWriteItems). */
export interface RecordedResource {
  /** The resource's ARN (region from the client, account from the resource's own URL when it has one). */
  readonly arn: string;
  /** For multi-item calls: the item's operation (`Put`, `Update`, `Delete`, `ConditionCheck`, `Get`). */
  readonly operation?: string;
}

/** An AWS API call as the SDK sent it, once per call (retries are the transport's, not new calls). */
export interface AwsCallRecord {
  readonly kind: 'aws';
  readonly service: RecordedService;
  /** The IAM service prefix: `dynamodb`, `sqs`, `secretsmanager`, `ssm`. */
  readonly awsService: string;
  /** The API operation: `GetItem`, `SendMessage` … */
  readonly action: string;
  readonly resources: readonly RecordedResource[];
  /** Where the SDK connected: `host:port`. */
  readonly endpoint: string;
}

/** An outbound TCP connection the process opened (any client: SDK, fetch, http). */
export interface ConnectionRecord {
  readonly kind: 'connection';
  readonly service: RecordedService;
  readonly address: string;
  readonly port: number;
}

export type CallRecord = AwsCallRecord | ConnectionRecord;

/** Receives records; must not throw (recording never fails the call it records). */
export type CallRecordSink = (record: CallRecord) => void;

/**
 * Appends each record as one JSON line. Synchronous appends keep lines whole when several
 * processes share the file; the cost is paid only when recording is on (tests).
 */
export function jsonlCallSink(file: string): CallRecordSink {
  return (record) => {
    try {
      appendFileSync(file, `${JSON.stringify(record)}\n`);
    } catch {
      // A full disk in a test run must not turn into a failed AWS call.
    }
  };
}
