import { Match } from 'aws-cdk-lib/assertions';
import { resourcesOf, synthStage } from './support/synth-stage';

const prod = synthStage('prod');
const staging = synthStage('staging');

describe('data (prod)', () => {
  const data = prod.templates.data;

  test('GIVEN the tasks and gateway tables WHEN created THEN they are pk/sk, on demand, TTL on `ttl`, PITR, KMS and protected', () => {
    data.resourceCountIs('AWS::DynamoDB::Table', 2);
    data.allResourcesProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      DeletionProtectionEnabled: true,
    });
    for (const [id] of resourcesOf(prod.json.data, 'AWS::DynamoDB::Table')) {
      expect((prod.json.data['Resources'] as Record<string, Record<string, unknown>>)[id]?.['DeletionPolicy']).toBe('Retain');
    }
  });

  test('GIVEN the lanes WHEN created THEN both redrive to one DLQ after 5 receives, with a 300 s visibility timeout, KMS and TLS only', () => {
    data.resourceCountIs('AWS::SQS::Queue', 3);
    const lanes = resourcesOf(prod.json.data, 'AWS::SQS::Queue').filter(([, p]) => p['RedrivePolicy'] !== undefined);
    expect(lanes).toHaveLength(2);
    for (const [, props] of lanes) {
      expect(props).toMatchObject({
        VisibilityTimeout: 300,
        RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: { 'Fn::GetAtt': [expect.stringMatching(/^QueuesDeadLetter/), 'Arn'] } },
        KmsMasterKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'] },
      });
    }
    data.resourceCountIs('AWS::SQS::QueuePolicy', 3);
    data.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
    });
  });

  test('GIVEN the data key WHEN created THEN it rotates', () => {
    data.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('GIVEN the secrets WHEN created THEN their initial values are the unset marker or an empty document, never a credential from the repository', () => {
    data.resourceCountIs('AWS::SecretsManager::Secret', 3);
    const values = Object.values(prod.json.data['Resources'] as Record<string, { Type: string; Properties: { SecretString?: string } }>)
      .filter((r) => r.Type === 'AWS::SecretsManager::Secret')
      .map((r) => r.Properties.SecretString ?? '');
    for (const v of values) expect(v === '{}' || v.startsWith('OPENCLAW_UNSET: ')).toBe(true);
  });

  test('GIVEN staging WHEN compared with prod THEN tables are unprotected and removable', () => {
    staging.templates.data.allResourcesProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    for (const [id] of resourcesOf(staging.json.data, 'AWS::DynamoDB::Table')) {
      expect((staging.json.data['Resources'] as Record<string, Record<string, unknown>>)[id]?.['DeletionPolicy']).toBe('Delete');
    }
  });
});

describe('registry and deploy access (prod)', () => {
  const registry = prod.templates.registry;

  test('GIVEN the repository WHEN created THEN tags are immutable, pushes are scanned and only untagged images expire', () => {
    registry.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryName: 'openclaw-prod',
      ImageTagMutability: 'IMMUTABLE',
      ImageScanningConfiguration: { ScanOnPush: true },
      EncryptionConfiguration: { EncryptionType: 'KMS' },
    });
    const repo = resourcesOf(prod.json.registry, 'AWS::ECR::Repository')[0]?.[1];
    const policy = JSON.parse(repo?.['LifecyclePolicy']['LifecyclePolicyText'] as string) as { rules: Array<{ selection: Record<string, unknown> }> };
    expect(policy.rules).toHaveLength(1);
    expect(policy.rules[0]?.selection).toEqual({ tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 14, countUnit: 'days' });
  });

  test('GIVEN the GitHub deploy role WHEN assumed THEN only the repository\'s prod environment can, through OIDC', () => {
    registry.hasResourceProperties('AWS::IAM::OIDCProvider', { Url: 'https://token.actions.githubusercontent.com', ClientIdList: ['sts.amazonaws.com'] });
    registry.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Effect: 'Allow',
            Principal: { Federated: { Ref: Match.stringLikeRegexp('^GithubDeployProvider') } },
            Condition: {
              StringEquals: {
                'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
                'token.actions.githubusercontent.com:sub': ['repo:example-org/agents-deploy:environment:prod'],
              },
            },
          },
        ],
      },
    });
  });

  test('GIVEN the deploy role WHEN it acts THEN it assumes only this account\'s CDK bootstrap roles and pushes only to this repository', () => {
    const policy = resourcesOf(prod.json.registry, 'AWS::IAM::Policy')[0]?.[1];
    const statements = policy?.['PolicyDocument']['Statement'] as Array<Record<string, any>>;
    const bootstrap = statements.find((s) => s['Sid'] === 'CdkBootstrapRoles');
    expect(JSON.stringify(bootstrap?.['Resource'])).toContain('role/cdk-hnb659fds-deploy-role-410987654321-us-east-1');
    const push = statements.find((s) => s['Sid'] === 'PromoteImage');
    expect(push?.['Resource']).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^RegistryRepository/), 'Arn'] });
  });
});

describe('network', () => {
  const network = prod.templates.network;

  test('GIVEN prod WHEN the VPC is built THEN there is one NAT per AZ; staging shares one', () => {
    network.resourceCountIs('AWS::EC2::NatGateway', 3);
    staging.templates.network.resourceCountIs('AWS::EC2::NatGateway', 1);
  });

  test('GIVEN the AWS APIs tasks use WHEN reached THEN it is through VPC endpoints', () => {
    const services = resourcesOf(prod.json.network, 'AWS::EC2::VPCEndpoint').map(([, p]) => JSON.stringify(p['ServiceName']));
    for (const api of ['.sqs', '.secretsmanager', '.ecr.api', '.ecr.dkr', '.logs', '.ssm', '.dynamodb', '.s3']) {
      expect(services.some((s) => s.includes(api))).toBe(true);
    }
    network.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['.dynamodb'])] }) });
  });

  test('GIVEN the flow logs and container logs WHEN written THEN they are KMS-encrypted', () => {
    network.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT', LogDestinationType: 'cloud-watch-logs' });
    network.allResourcesProperties('AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue(), RetentionInDays: 365 });
    prod.templates.services.allResourcesProperties('AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue(), RetentionInDays: 365 });
    network.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'AllowCloudWatchLogs', Principal: { Service: 'logs.us-east-1.amazonaws.com' } })]) },
    });
  });
});

describe('dev without a certificate', () => {
  const dev = synthStage('dev');

  test('GIVEN no certificate WHEN the listener is built THEN it is plain HTTP reachable only from the configured range', () => {
    dev.templates.services.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    dev.templates.services.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Intake ALB',
      SecurityGroupIngress: [{ CidrIp: '10.99.0.0/16', FromPort: 80, ToPort: 80, IpProtocol: 'tcp', Description: 'Clients of the task API' }],
    });
  });
});
