import * as sqs from 'aws-cdk-lib/aws-sqs';
import { buildApp } from '../../lib/app';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { DEPLOY_STAGES } from '../../lib/config';
import { wildcardActions } from './support/iam-scan';
import { STACK_KEYS, TEST_DIGEST, resourcesOf, synthStage, testApp } from './support/synth-stage';

/** Replace asset hashes and the test digest so snapshots change only when the infrastructure does. */
function normalise(template: Record<string, unknown>): unknown {
  const text = JSON.stringify(template)
    .replace(/[0-9a-f]{64}(\.(json|zip))?/g, '<hash>$1')
    .replace(new RegExp(TEST_DIGEST, 'g'), '<digest>');
  return JSON.parse(text) as unknown;
}

describe.each(DEPLOY_STAGES)('stage %s', (name) => {
  const synthesized = synthStage(name);

  test('GIVEN the AwsSolutions pack WHEN synthesized THEN nothing is left unacknowledged', () => {
    // app.synth() throws ValidationFailed on any unacknowledged finding (see the control below).
    expect(() => synthStage(name)).not.toThrow();
  });

  test('GIVEN every IAM policy WHEN scanned THEN no action is a wildcard', () => {
    const offenders = STACK_KEYS.flatMap((k) => wildcardActions(synthesized.json[k]).map((o) => `${k}/${o.resource}: ${o.action}`));
    expect(offenders).toEqual([]);
  });

  test('GIVEN a digest WHEN synthesized THEN every task runs that digest from the stage repository', () => {
    const taskDefinitions = resourcesOf(synthesized.json.services, 'AWS::ECS::TaskDefinition');
    // Intake, gateway, stable workers and the canary's candidate workers (the stable digest unless -c canaryDigest=).
    expect(taskDefinitions).toHaveLength(4);
    for (const [, props] of taskDefinitions) {
      const image = JSON.stringify(props['ContainerDefinitions'][0].Image);
      expect(image).toContain(`@${TEST_DIGEST}`);
    }
  });

  test('template snapshot (asset hashes normalised)', () => {
    expect(Object.fromEntries(STACK_KEYS.map((k) => [k, normalise(synthesized.json[k])]))).toMatchSnapshot();
  });
});

describe('image digest context', () => {
  test.each(['staging', 'prod'] as const)('GIVEN no digest WHEN %s is synthesized THEN its services stack carries an error saying what to pass', (name) => {
    const { stage } = synthStage(name, {});
    Annotations.fromStack(stage.services).hasError('*', Match.stringLikeRegexp(`Stage ${name} needs the image digest CI pushed: pass -c imageDigest=sha256:`));
    // The registry deploys first, before any image exists.
    expect(Annotations.fromStack(stage.registry).findError('*', Match.anyValue())).toEqual([]);
  });

  test('GIVEN no digest WHEN dev is synthesized THEN it warns and runs the named placeholder', () => {
    const { stage, json } = synthStage('dev', {});
    Annotations.fromStack(stage.services).hasWarning('*', Match.stringLikeRegexp('runs the placeholder image sha256:0{64}'));
    expect(Annotations.fromStack(stage.services).findError('*', Match.anyValue())).toEqual([]);
    expect(JSON.stringify(json.services)).toContain(`@sha256:${'0'.repeat(64)}`);
  });

  test('GIVEN a malformed digest WHEN the app is built THEN it fails naming the value', () => {
    expect(() => synthStage('prod', { imageDigest: 'v1.2.3' })).toThrow(/imageDigest="v1.2.3" is not an image digest/);
  });
});

describe('cdk-nag control', () => {
  test('GIVEN a stage with one unacknowledged finding WHEN synthesized THEN the synth fails with ValidationFailed', () => {
    const app = testApp({ imageDigest: TEST_DIGEST });
    const stage = buildApp(app, { stages: ['dev'] })['dev'];
    if (stage === undefined) throw new Error('no dev stage');
    new sqs.Queue(stage.data, 'UnencryptedWithoutDlq', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS2[\s\S]*AwsSolutions-SQS3[\s\S]*AwsSolutions-SQS4/);
  });
});
