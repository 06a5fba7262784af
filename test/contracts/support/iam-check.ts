/**
 * The IAM contract, both ways: every recorded call (and the KMS use it implies) must be allowed
 * by the synthesized task role of the service that made it, and every grant of that role must be
 * used by some call, unless the allowlist gives the reason it is not.
 */
import type { AwsCallRecord, CallRecord, RecordedService } from '../../../runtime/src/shared/call-record';
import type { CallBinding } from './call-binding';
import { UnresolvableError } from './cfn-resolver';
import { actionMatches, evaluate, type AuthzRequest } from './iam-evaluator';
import type { StageModel } from './stage-model';

export interface UnusedGrantAllowance {
  readonly service: RecordedService;
  readonly action: string;
  /** A part of the granted resource (a logical ID's stem, e.g. `QueuesDeadLetter`); unset: any resource. */
  readonly resource?: string;
  /** A part of the granting statement's condition (e.g. `dynamodb.`, for KMS use via DynamoDB); unset: any. */
  readonly when?: string;
  readonly reason: string;
}

export interface ServiceRequest extends AuthzRequest {
  readonly service: RecordedService;
  /** The recorded call it comes from, e.g. `sqs:SendMessage` or `dynamodb:TransactWriteItems(Put)`. */
  readonly source: string;
  readonly count: number;
  readonly unbound?: string;
}

export interface GrantUse {
  readonly service: RecordedService;
  readonly statement: string;
  readonly action: string;
  readonly resource: string;
  readonly used: number;
  readonly allowance?: UnusedGrantAllowance;
}

export interface IamReport {
  readonly stage: string;
  readonly denied: readonly string[];
  readonly unevaluable: readonly string[];
  readonly unused: readonly GrantUse[];
  readonly grants: readonly GrantUse[];
  readonly staleAllowances: readonly UnusedGrantAllowance[];
  readonly table: string;
}

const TRANSACT_ITEM_ACTION: Readonly<Record<string, string>> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
  Get: 'GetItem',
};

/**
 * SQS authorises a batch call as its single action (the IAM service authorization reference lists
 * no SendMessageBatch action; a grant of sqs:SendMessage covers it).
 */
const SQS_BATCH_ACTION: Readonly<Record<string, string>> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/** The IAM action name a recorded call is authorised as. */
function authorisedAs(awsService: string, action: string): string {
  return awsService === 'sqs' ? (SQS_BATCH_ACTION[action] ?? action) : action;
}

/**
 * KMS calls SQS and DynamoDB make with the caller's permissions when a resource is encrypted with
 * a customer-managed key (SQS developer guide, "Key management": producers need GenerateDataKey and
 * Decrypt, consumers Decrypt; DynamoDB decrypts the table key for every data-plane request).
 */
function implicitKmsActions(awsService: string, recordedAction: string): string[] {
  const action = authorisedAs(awsService, recordedAction);
  if (awsService === 'sqs' && action === 'SendMessage') return ['kms:GenerateDataKey', 'kms:Decrypt'];
  if (awsService === 'sqs' && action === 'ReceiveMessage') return ['kms:Decrypt'];
  if (awsService === 'dynamodb' && !/^(Describe|List)/.test(action)) return ['kms:Decrypt'];
  return [];
}

/** Bound resource ARN -> the customer-managed key that encrypts it, for every queue and table in the stage. */
function encryptionKeys(stage: StageModel): Map<string, string> {
  const keys = new Map<string, string>();
  const r = stage.resolver;
  for (const stack of Object.keys(r.stage.templates)) {
    for (const [id, res] of Object.entries(r.resources(stack))) {
      const props = res.Properties ?? {};
      const key = res.Type === 'AWS::SQS::Queue' ? props['KmsMasterKeyId'] : res.Type === 'AWS::DynamoDB::Table' && props['SSESpecification']?.['SSEEnabled'] ? props['SSESpecification']?.['KMSMasterKeyId'] : undefined;
      if (key === undefined) continue;
      try {
        keys.set(r.str({ 'Fn::GetAtt': [id, 'Arn'] }, stack), r.str(key, stack));
      } catch (err) {
        if (!(err instanceof UnresolvableError)) throw err;
      }
    }
  }
  return keys;
}

/** The authorization requests a run's AWS calls amount to, in the stage's terms, counted. */
export function requestsOf(records: readonly CallRecord[], binding: CallBinding, stage: StageModel): ServiceRequest[] {
  const keys = encryptionKeys(stage);
  const byKey = new Map<string, ServiceRequest>();
  const add = (r: Omit<ServiceRequest, 'count'>) => {
    const k = JSON.stringify([r.service, r.action, r.resource, r.context, r.source]);
    const prev = byKey.get(k);
    byKey.set(k, { ...r, count: (prev?.count ?? 0) + 1 });
  };
  for (const rec of records.filter((x): x is AwsCallRecord => x.kind === 'aws')) {
    for (const res of rec.resources) {
      const bound = binding.bind(rec.service, res.arn);
      const item = res.operation !== undefined ? TRANSACT_ITEM_ACTION[res.operation] : undefined;
      const action = `${rec.awsService}:${item ?? authorisedAs(rec.awsService, rec.action)}`;
      const source = `${rec.awsService}:${rec.action}${res.operation !== undefined ? `(${res.operation})` : ''}`;
      add({ service: rec.service, action, resource: bound.arn, context: {}, source, ...(bound.unbound !== undefined ? { unbound: bound.unbound } : {}) });
      const key = keys.get(bound.arn);
      if (key === undefined) continue;
      for (const kms of implicitKmsActions(rec.awsService, rec.action)) {
        add({ service: rec.service, action: kms, resource: key, context: { 'kms:ViaService': `${rec.awsService}.${stage.region}.amazonaws.com` }, source: `implicit, by ${source}` });
      }
    }
  }
  return [...byKey.values()];
}

const short = (arn: string) => arn.replace(/^arn:aws:[^:]+:[^:]*:[^:]*:/, '').replace(/\{\{[^.}]+\.([A-Za-z]+?)[0-9A-F]{8}\}\}/g, '{$1}');

function padTable(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

export function checkIam(stage: StageModel, requests: readonly ServiceRequest[], allowlist: readonly UnusedGrantAllowance[]): IamReport {
  const denied: string[] = [];
  const unevaluable: string[] = [];
  const grants: GrantUse[] = [];
  const usedAllowances = new Set<UnusedGrantAllowance>();
  const sections: string[] = [];
  for (const model of Object.values(stage.services)) {
    const mine = requests.filter((r) => r.service === model.service);
    const decisions = mine.map((r) => [r, evaluate(model.statements, r)] as const);
    for (const [r, d] of decisions) {
      const what = `${model.service}: ${r.action} on ${r.resource} (from ${r.source}, ${r.count}x) by role ${model.roleId} in ${stage.name}`;
      if (d.decision === 'deny') denied.push(`${what}: DENIED, ${d.reason}${r.unbound !== undefined ? `; ${r.unbound}` : ''}`);
      if (d.decision === 'unevaluable') unevaluable.push(`${what}: cannot be decided offline: ${d.reason}`);
    }
    for (const g of model.opaqueGrants) unevaluable.push(`${model.service}: role ${model.roleId} has ${g}, which cannot be evaluated offline`);
    const rows: string[][] = [['granted action', 'resource', 'calls', 'status']];
    for (const s of model.statements.filter((x) => x.effect === 'Allow')) {
      for (const action of s.actions ?? s.notActions?.map((a) => `NOT ${a}`) ?? []) {
        const resources = s.resources ?? ['*'];
        const used = decisions
          .filter(([r, d]) => d.decision === 'allow' && d.by.includes(s) && actionMatches(action, r.action))
          .reduce((n, [r]) => n + r.count, 0);
        const resource = resources.join(', ');
        const allowance =
          used > 0
            ? undefined
            : allowlist.find(
                (a) =>
                  a.service === model.service &&
                  actionMatches(a.action, action) &&
                  (a.resource === undefined || resource.includes(a.resource)) &&
                  (a.when === undefined || JSON.stringify(s.condition ?? {}).includes(a.when)),
              );
        if (allowance !== undefined) usedAllowances.add(allowance);
        grants.push({ service: model.service, statement: s.id, action, resource, used, ...(allowance !== undefined ? { allowance } : {}) });
        const via = s.condition !== undefined ? ` (${Object.values(s.condition).flatMap((b) => Object.values(b).flat()).join(', ')})` : '';
        rows.push([action, resources.map(short).join(', ') + via, String(used), used > 0 ? 'used' : allowance !== undefined ? 'allowlisted' : 'UNUSED']);
      }
    }
    const deniedRows = decisions.filter(([, d]) => d.decision !== 'allow').map(([r, d]) => [r.action, short(r.resource), String(r.count), d.decision === 'deny' ? 'DENIED (not granted)' : 'UNEVALUABLE']);
    sections.push(`${model.service} — task role ${model.roleId} (${stage.name})\n${padTable([...rows, ...deniedRows])}`);
  }
  const unused = grants.filter((g) => g.used === 0 && g.allowance === undefined);
  const staleAllowances = allowlist.filter((a) => !usedAllowances.has(a));
  return { stage: stage.name, denied, unevaluable, unused, grants, staleAllowances, table: sections.join('\n\n') };
}
