import { Stage, type StageProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { CanaryPlan, StageConfig } from './config';
import { DataStack } from './stacks/data-stack';
import { NetworkStack } from './stacks/network-stack';
import { ObservabilityStack } from './stacks/observability-stack';
import { RegistryStack } from './stacks/registry-stack';
import { ServicesStack } from './stacks/services-stack';

export interface OpenClawStageProps extends StageProps {
  /** Validated configuration of this stage. */
  readonly config: StageConfig;
  /** Image digest to run (`sha256:...`). */
  readonly imageDigest: string;
  /** The agent canary's candidate, resolved from config and context. @default - none */
  readonly canary?: CanaryPlan;
}

/** One environment (dev, staging or prod): five stacks in the stage's own account and region. */
export class OpenClawStage extends Stage {
  readonly registry: RegistryStack;
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly services: ServicesStack;
  readonly observability: ObservabilityStack;

  constructor(scope: Construct, id: string, props: OpenClawStageProps) {
    super(scope, id, { ...props, env: props.config.env });
    const { config } = props;
    const tags = { project: 'openclaw', stage: config.stage };
    // Stacks holding state (images, the log key and flow logs, tables, queues, secrets) refuse
    // `cdk destroy` where the stage protects its data.
    const terminationProtection = config.data.deletionProtection;
    this.registry = new RegistryStack(this, 'Registry', { config, tags, terminationProtection });
    this.network = new NetworkStack(this, 'Network', { config, tags, terminationProtection });
    this.data = new DataStack(this, 'Data', { config, tags, terminationProtection });
    this.services = new ServicesStack(this, 'Services', {
      config,
      tags,
      imageDigest: props.imageDigest,
      repository: this.registry.repository,
      network: this.network.network,
      logKey: this.network.logKey,
      data: this.data,
      ...(props.canary === undefined ? {} : { canary: props.canary }),
    });
    this.observability = new ObservabilityStack(this, 'Observability', { config, tags, data: this.data, services: this.services });
  }
}
