import { ENV } from '../../runtime/src/shared/config';
import { resourcesOf, synthStage } from './support/synth-stage';

const prod = synthStage('prod');

/** The DLQ's logical ID in the data stack, and what the services stack imports for it. */
function deadLetterQueue(): { logicalId: string } {
  const found = resourcesOf(prod.json.data, 'AWS::SQS::Queue').find(([id]) => id.includes('DeadLetter'));
  if (found === undefined) throw new Error('no dead-letter queue in the data stack');
  return { logicalId: found[0] };
}

function workerContainer(): Record<string, any> {
  const found = resourcesOf(prod.json.services, 'AWS::ECS::TaskDefinition')
    .map(([, p]) => p['ContainerDefinitions'][0] as Record<string, any>)
    .find((c) => c['Name'] === 'worker');
  if (found === undefined) throw new Error('no worker container');
  return found;
}

/** Statements of every policy attached to the worker's task role. */
function workerStatements(): Array<Record<string, any>> {
  const taskDef = resourcesOf(prod.json.services, 'AWS::ECS::TaskDefinition').find(([, p]) => p['ContainerDefinitions'][0]['Name'] === 'worker');
  const roleId = (taskDef?.[1]['TaskRoleArn'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return resourcesOf(prod.json.services, 'AWS::IAM::Policy')
    .filter(([, p]) => (p['Roles'] as Array<{ Ref: string }>).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p['PolicyDocument']['Statement'] as Array<Record<string, any>>);
}

const importsDeadLetter = (value: unknown, attribute: 'Ref' | 'Arn') =>
  JSON.stringify(value).includes(deadLetterQueue().logicalId) && JSON.stringify(value).includes(attribute === 'Arn' ? 'Arn' : 'ExportsOutputRef');

describe('the worker sweeps the dead-letter queue (prod)', () => {
  it('GIVEN the worker task WHEN synthesized THEN DEAD_LETTER_QUEUE_URL names the lanes\' DLQ', () => {
    const env = Object.fromEntries((workerContainer()['Environment'] as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
    expect(importsDeadLetter(env[ENV.deadLetterQueueUrl], 'Ref')).toBe(true);
  });

  it('GIVEN the worker role WHEN synthesized THEN it may receive and hold DLQ messages but never delete or send them', () => {
    const onDlq = workerStatements().filter((s) => importsDeadLetter(s['Resource'], 'Arn'));
    const actions = onDlq.flatMap((s) => (Array.isArray(s['Action']) ? s['Action'] : [s['Action']]) as string[]);
    expect(actions.sort()).toEqual(['sqs:ChangeMessageVisibility', 'sqs:ReceiveMessage']);
  });
});

/** The worker task definitions of the stable pool and the canary's candidate pool, by logical ID. */
function poolTask(pool: 'stable' | 'candidate'): [string, Record<string, any>] {
  const found = resourcesOf(prod.json.services, 'AWS::ECS::TaskDefinition').find(
    ([id, p]) => p['ContainerDefinitions'][0]['Name'] === 'worker' && id.startsWith('Canary') === (pool === 'candidate'),
  );
  if (found === undefined) throw new Error(`no ${pool} worker task definition`);
  return found;
}

function envOf(pool: 'stable' | 'candidate'): Record<string, unknown> {
  const container = poolTask(pool)[1]['ContainerDefinitions'][0] as { Environment: Array<{ Name: string; Value: unknown }> };
  return Object.fromEntries(container.Environment.map((e) => [e.Name, e.Value]));
}

function statementsOf(pool: 'stable' | 'candidate'): Array<Record<string, any>> {
  const roleId = (poolTask(pool)[1]['TaskRoleArn'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return resourcesOf(prod.json.services, 'AWS::IAM::Policy')
    .filter(([, p]) => (p['Roles'] as Array<{ Ref: string }>).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p['PolicyDocument']['Statement'] as Array<Record<string, any>>);
}

/** The candidate's DLQ (the canary lanes' dead-letter queue, in the services stack). */
function candidateDeadLetterId(): string {
  const found = resourcesOf(prod.json.services, 'AWS::SQS::Queue').find(([id]) => id.startsWith('Canary') && id.includes('DeadLetter'));
  if (found === undefined) throw new Error('no candidate dead-letter queue in the services stack');
  return found[0];
}

const refersTo = (value: unknown, logicalId: string) => JSON.stringify(value).includes(`"${logicalId}"`);

describe('the canary\'s dead-letter queue is swept (prod)', () => {
  it('GIVEN the candidate pool WHEN synthesized THEN its workers sweep its own DLQ, not the stable lanes\'', () => {
    const env = envOf('candidate');
    expect(refersTo(env[ENV.deadLetterQueueUrl], candidateDeadLetterId())).toBe(true);
    expect(importsDeadLetter(env[ENV.deadLetterQueueUrl], 'Ref')).toBe(false);
  });

  it('GIVEN the stable pool WHEN synthesized THEN it also sweeps the candidate\'s DLQ (the candidate may have scaled to zero after a rollback)', () => {
    const env = envOf('stable');
    expect(importsDeadLetter(env[ENV.deadLetterQueueUrl], 'Ref')).toBe(true);
    expect(refersTo(env[ENV.extraDeadLetterQueueUrls], candidateDeadLetterId())).toBe(true);
  });

  it.each(['stable', 'candidate'] as const)('GIVEN the %s role WHEN synthesized THEN it may receive and hold the candidate DLQ\'s messages, never delete or send them', (pool) => {
    const onDlq = statementsOf(pool).filter((s) => refersTo(s['Resource'], candidateDeadLetterId()));
    const actions = onDlq.flatMap((s) => (Array.isArray(s['Action']) ? s['Action'] : [s['Action']]) as string[]);
    expect(actions.sort()).toEqual(['sqs:ChangeMessageVisibility', 'sqs:ReceiveMessage']);
  });
});

/** The candidate pool's lanes (high, normal) in the services stack. */
function candidateLaneIds(): { high: string; normal: string } {
  const lanes = resourcesOf(prod.json.services, 'AWS::SQS::Queue').filter(([id]) => id.startsWith('Canary') && !id.includes('DeadLetter'));
  const high = lanes.find(([id]) => id.includes('High'))?.[0];
  const normal = lanes.find(([id]) => id.includes('Normal'))?.[0];
  if (high === undefined || normal === undefined) throw new Error('no candidate lanes in the services stack');
  return { high, normal };
}

describe('the canary\'s approvals are swept by the stable pool too (prod)', () => {
  it('GIVEN the stable pool WHEN synthesized THEN CANARY_APPROVAL_QUEUE_URLS names the candidate\'s high lane, then its normal lane', () => {
    const value = JSON.stringify(envOf('stable')[ENV.canaryApprovalQueueUrls]);
    const { high, normal } = candidateLaneIds();
    expect(value.indexOf(`"${high}"`)).toBeGreaterThan(-1);
    expect(value.indexOf(`"${normal}"`)).toBeGreaterThan(value.indexOf(`"${high}"`));
  });

  it('GIVEN the candidate pool WHEN synthesized THEN it does not carry the variable (its own sweep covers its own approvals)', () => {
    expect(envOf('candidate')[ENV.canaryApprovalQueueUrls]).toBeUndefined();
  });

  it('GIVEN the stable role WHEN synthesized THEN it may send to the candidate\'s lanes (to queue an expired approval\'s task), and nothing else there', () => {
    const { high, normal } = candidateLaneIds();
    const onLanes = statementsOf('stable').filter((s) => refersTo(s['Resource'], high) || refersTo(s['Resource'], normal));
    expect(onLanes.flatMap((s) => (Array.isArray(s['Action']) ? s['Action'] : [s['Action']]) as string[])).toEqual(['sqs:SendMessage']);
    expect(onLanes.every((s) => refersTo(s['Resource'], high) && refersTo(s['Resource'], normal))).toBe(true);
  });
});
