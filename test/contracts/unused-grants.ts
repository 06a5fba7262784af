import type { RecordedService } from '../../runtime/src/shared/call-record';
import type { UnusedGrantAllowance } from './support/iam-check';

const ALL: readonly RecordedService[] = ['intake', 'worker', 'gateway'];

const XRAY = 'The ADOT collector sidecar exports the spans to X-Ray with the task role; it runs only on ECS (the local services keep spans in process).';
const DYNAMODB_KMS =
  'CDK-style key use for a table encrypted with a customer-managed key: DynamoDB may call these on the caller\'s behalf (table-key creation and checks); DynamoDB Local has no KMS, so only the per-request Decrypt is derived from the recorded calls.';

/**
 * Grants of the task roles that the recorded workload (test/contracts/support/recorded-workload.ts)
 * does not exercise, each with why it stays. Keep it short and true: an entry that no longer
 * matches an unused grant fails the test, so a grant that starts being used leaves this list.
 */
export const UNUSED_GRANT_ALLOWLIST: readonly UnusedGrantAllowance[] = [
  ...ALL.flatMap((service) => [
    { service, action: 'xray:PutTraceSegments', reason: XRAY },
    { service, action: 'xray:PutTelemetryRecords', reason: XRAY },
    ...['kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'].map((action) => ({ service, action, when: '"dynamodb.', reason: DYNAMODB_KMS })),
  ]),
  { service: 'worker', action: 'ecs:UpdateTaskProtection', reason: 'Sent by the ECS agent ($ECS_AGENT_URI) with the task role when the worker asks for scale-in protection; the agent exists only on ECS.' },
  { service: 'worker', action: 'ecs:GetTaskProtection', reason: 'Read by the ECS agent on the task\'s behalf with the task role (as above); only on ECS.' },
  {
    service: 'worker',
    action: 'sqs:ChangeMessageVisibility',
    resource: 'QueuesDeadLetter',
    reason: 'The sweep holds a dead-lettered message whose task another worker still leases; that race is covered by the sweeper tests, not by this workload.',
  },
  { service: 'intake', action: 'dynamodb:DeleteItem', reason: 'Undoes a task row whose enqueue failed (no Idempotency-Key): reached only when SQS refuses the send.' },
  {
    service: 'worker',
    action: 'sqs:SendMessage',
    reason: 'Re-queues a task: the approval sweep when an approval expires, and a hand-back longer than SQS allows a message to stay hidden (the message is replaced). Covered by the approval and hand-back tests, not by this workload.',
  },
  { service: 'worker', action: 'kms:GenerateDataKey', when: '"sqs.', reason: 'The SendMessage above, on the KMS-encrypted lanes.' },
  {
    service: 'worker',
    action: 'sqs:ChangeMessageVisibility',
    resource: 'QueuesHigh',
    reason: 'The heartbeat extends a long task\'s visibility and a failed task is backed off; the workload\'s tasks finish inside one visibility window. Covered by test/runtime/worker (heartbeat, lifecycle).',
  },
  {
    service: 'intake',
    action: 'cloudwatch:PutMetricData',
    reason: 'The queue-demand publisher (QUEUE_DEMAND_INTERVAL_MS, set only by the template): CloudWatch has no emulator here; covered by test/runtime/shared/queue-demand.test.ts.',
  },
];

/**
 * The worker's allowances for an agent canary's candidate pool: the same code with the same
 * reasons, on the candidate's own lanes (`CanaryLanes*` where the stable pool has `Queues*`).
 */
export const CANDIDATE_UNUSED_GRANT_ALLOWLIST: readonly UnusedGrantAllowance[] = UNUSED_GRANT_ALLOWLIST.filter((a) => a.service === 'worker').map((a) =>
  a.resource?.startsWith('Queues') === true ? { ...a, resource: a.resource.replace(/^Queues/, 'CanaryLanes') } : a,
);
