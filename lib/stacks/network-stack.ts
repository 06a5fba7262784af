import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { AgentNetwork } from '../constructs/agent-network';
import { EncryptionKey } from '../constructs/encryption-key';
import { removalPolicyFor, retentionFor } from './stage-policies';

export interface NetworkStackProps extends StackProps {
  readonly config: StageConfig;
}

/** VPC, endpoints and flow logs, plus the stage's log encryption key (flow logs and containers). */
export class NetworkStack extends Stack {
  readonly network: AgentNetwork;
  readonly logKey: kms.IKey;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = removalPolicyFor(config);
    this.logKey = new EncryptionKey(this, 'LogKey', {
      purpose: 'logs',
      aliasPrefix: `openclaw/${config.stage}`,
      allowCloudWatchLogs: true,
      removalPolicy,
    }).key;
    this.network = new AgentNetwork(this, 'Network', {
      cidr: config.network.cidr,
      availabilityZones: config.network.availabilityZones,
      natGateways: config.network.natGateways,
      prefixLists: config.network.prefixLists,
      logKey: this.logKey,
      logRetention: retentionFor(config),
      removalPolicy,
    });
  }
}
