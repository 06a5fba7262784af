import { wildcardActions } from './support/iam-scan';

describe('wildcard action scan', () => {
  test('GIVEN wildcard actions in a policy, a role and a managed policy WHEN scanned THEN each is reported', () => {
    const template = {
      Resources: {
        Inline: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: { Statement: [{ Action: ['sqs:SendMessage', 'kms:GenerateDataKey*'] }] } } },
        Role: { Type: 'AWS::IAM::Role', Properties: { Policies: [{ PolicyDocument: { Statement: [{ Action: 's3:*' }] } }] } },
        Managed: { Type: 'AWS::IAM::ManagedPolicy', Properties: { PolicyDocument: { Statement: [{ NotAction: 'iam:*' }] } } },
        Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
      },
    };
    expect(wildcardActions(template)).toEqual([
      { resource: 'Inline', action: 'kms:GenerateDataKey*' },
      { resource: 'Role', action: 's3:*' },
      { resource: 'Managed', action: 'iam:*' },
    ]);
  });

  test('GIVEN only exact actions WHEN scanned THEN nothing is reported', () => {
    const template = { Resources: { P: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: { Statement: [{ Action: 'dynamodb:GetItem' }] } } } } };
    expect(wildcardActions(template)).toEqual([]);
  });
});
