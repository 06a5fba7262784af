import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AgentNetwork } from '../../lib/constructs/agent-network';
import { AgentTaskDefinition } from '../../lib/constructs/agent-task-definition';
import { AgentAlarms } from '../../lib/constructs/agent-alarms';
import { requireTaskRetention } from '../../lib/constructs/agent-service-props';
import { AlarmTopics } from '../../lib/constructs/alarm-topics';
import { ContainerRegistry } from '../../lib/constructs/container-registry';
import { GithubDeployRole } from '../../lib/constructs/github-deploy-role';
import { TaskQueues } from '../../lib/constructs/task-queues';
import { InfraConfigError } from '../../lib/errors';

function stack(): Stack {
  return new Stack(new App(), 'Test', { env: { account: '123456789012', region: 'us-east-1' } });
}

const digest = `sha256:${'c'.repeat(64)}`;
function taskProps(s: Stack) {
  return {
    repository: ecr.Repository.fromRepositoryName(s, 'Repo', 'openclaw'),
    imageDigest: digest,
    cpu: 512,
    memoryMiB: 1024,
    logKey: new kms.Key(s, 'LogKey'),
    logRetention: logs.RetentionDays.ONE_WEEK,
    commonEnvironment: { STAGE: 'dev' },
    role: 'worker' as const,
    port: 8081,
  };
}

describe('TaskQueues', () => {
  test('GIVEN defaults WHEN created THEN lanes redrive after 5 receives with a 300 s visibility timeout', () => {
    const s = stack();
    new TaskQueues(s, 'Q', { encryptionKey: new kms.Key(s, 'K') });
    Template.fromStack(s).resourcePropertiesCountIs('AWS::SQS::Queue', { VisibilityTimeout: 300, RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() } }, 2);
  });

  test('GIVEN maxReceiveCount 0 WHEN created THEN it fails naming the value and the range', () => {
    const s = stack();
    expect(() => new TaskQueues(s, 'Q', { encryptionKey: new kms.Key(s, 'K'), maxReceiveCount: 0 })).toThrow(
      /TaskQueues: maxReceiveCount=0 is invalid; use an integer from 1 to 1000/,
    );
  });

  test('GIVEN a 13 h visibility timeout WHEN created THEN it fails: SQS caps visibility at 12 h', () => {
    const s = stack();
    expect(() => new TaskQueues(s, 'Q', { encryptionKey: new kms.Key(s, 'K'), visibilityTimeout: Duration.hours(13) })).toThrow(/visibilityTimeout="46800s" is invalid/);
  });
});

describe('AgentTaskDefinition', () => {
  test('GIVEN a tag instead of a digest WHEN created THEN it fails saying to pass the digest', () => {
    const s = stack();
    expect(() => new AgentTaskDefinition(s, 'T', { ...taskProps(s), imageDigest: 'latest' })).toThrow(InfraConfigError);
    expect(() => new AgentTaskDefinition(stack(), 'T', { ...taskProps(stack()), imageDigest: 'v1' })).toThrow(/imageDigest="v1" is invalid; pass the sha256:<64 hex> digest/);
  });

  test('GIVEN a stop timeout above Fargate\'s maximum WHEN created THEN it fails', () => {
    const s = stack();
    expect(() => new AgentTaskDefinition(s, 'T', { ...taskProps(s), stopTimeout: Duration.seconds(180) })).toThrow(/stopTimeout="180s" is invalid; Fargate accepts 2 to 120 seconds/);
  });

  test('GIVEN a /tmp larger than a quarter of memory WHEN created THEN it fails with the allowed range', () => {
    const s = stack();
    expect(() => new AgentTaskDefinition(s, 'T', { ...taskProps(s), tmpSizeMiB: 512 })).toThrow(/tmpSizeMiB=512 is invalid; tmpfs counts against task memory: use 16 to 256 MiB/);
  });

  test('GIVEN valid props WHEN created THEN the image is pulled by digest', () => {
    const s = stack();
    new AgentTaskDefinition(s, 'T', taskProps(s));
    expect(JSON.stringify(Template.fromStack(s).toJSON())).toContain(`openclaw@${digest}`);
  });
});

describe('AgentNetwork', () => {
  test('GIVEN more NAT gateways than AZs WHEN created THEN it fails naming the range', () => {
    const s = stack();
    expect(
      () =>
        new AgentNetwork(s, 'N', {
          cidr: '10.0.0.0/16',
          availabilityZones: ['us-east-1a', 'us-east-1b'],
          natGateways: 3,
          prefixLists: { s3: 'pl-63a5400a', dynamodb: 'pl-02cd2c6b' },
          logKey: new kms.Key(s, 'K'),
          logRetention: logs.RetentionDays.ONE_WEEK,
        }),
    ).toThrow(/AgentNetwork: natGateways=3 is invalid; use 1 \(shared\) to 2 \(one per AZ\)/);
  });
});

describe('GithubDeployRole', () => {
  test('GIVEN a wildcard environment WHEN created THEN it fails: any branch could claim it', () => {
    const s = stack();
    const repository = new ContainerRegistry(s, 'R', { repositoryName: 'openclaw' }).repository;
    expect(() => new GithubDeployRole(s, 'G', { owner: 'o', repo: 'r', environments: ['*'], repository })).toThrow(/environments=\["\*"\] is invalid/);
  });

  test('GIVEN an existing provider WHEN created THEN no second provider is made and the role trusts the given one', () => {
    const s = stack();
    const repository = new ContainerRegistry(s, 'R', { repositoryName: 'openclaw' }).repository;
    const arn = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';
    new GithubDeployRole(s, 'G', { owner: 'o', repo: 'r', environments: ['prod', 'staging'], repository, existingOidcProviderArn: arn });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Effect: 'Allow',
            Principal: { Federated: arn },
            Condition: { StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com', 'token.actions.githubusercontent.com:sub': ['repo:o/r:environment:prod', 'repo:o/r:environment:staging'] } },
          },
        ],
      },
    });
  });
});

describe('AgentAlarms', () => {
  /** AgentAlarms with valid required props and `extra` on top. */
  const alarmsWith = (extra: Partial<ConstructorParameters<typeof AgentAlarms>[2]>) => () => {
    const s = stack();
    const queues = new TaskQueues(s, 'Q', { encryptionKey: new kms.Key(s, 'K') });
    return new AgentAlarms(s, 'A', {
      stage: 'dev',
      topics: new AlarmTopics(s, 'T', { aliasPrefix: 'openclaw/test' }),
      queues: { high: queues.high, normal: queues.normal, deadLetter: queues.deadLetter },
      queueAgeThreshold: Duration.minutes(8),
      p99TaskDurationThreshold: Duration.minutes(5),
      ...extra,
    });
  };

  test('GIVEN valid props WHEN created THEN it builds', () => {
    expect(alarmsWith({})).not.toThrow();
  });

  test('GIVEN a 429 ratio of 5 (not 0.05) WHEN created THEN it fails asking for a fraction', () => {
    expect(alarmsWith({ gateway429Ratio: 5 })).toThrow(/AgentAlarms: gateway429Ratio=5 is invalid; use a fraction between 0 and 1/);
  });

  test('GIVEN maxReceiveCount 0 WHEN created THEN it fails naming the prop and what to pass', () => {
    expect(alarmsWith({ maxReceiveCount: 0 })).toThrow(/AgentAlarms: maxReceiveCount=0 is invalid; pass the queues' maxReceiveCount, a whole number from 1/);
  });
});

describe('requireTaskRetention (IntakeService, AgentWorkerService)', () => {
  test('GIVEN a retention the runtime would refuse WHEN synthesized THEN it fails naming the construct and the fix', () => {
    for (const days of [0, 1.5, 3651]) {
      expect(() => requireTaskRetention('IntakeService', days)).toThrow(
        new RegExp(`IntakeService: taskRetentionDays=${days} is invalid; use whole days from 1 to 3650`),
      );
    }
    expect(() => requireTaskRetention('AgentWorkerService', 90)).not.toThrow();
  });
});
