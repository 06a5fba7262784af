import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Construct } from 'constructs';
import { requireProp } from '../errors';

export interface ContainerRegistryProps {
  /** Repository name, e.g. `openclaw`. */
  readonly repositoryName: string;
  /**
   * Days after which untagged images are expired.
   * @default 14
   */
  readonly untaggedExpiryDays?: number;
  /**
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The stage account's image repository. Tags are immutable, every push is scanned, and the only
 * lifecycle rule expires untagged images: CI pushes each build with a tag (the git SHA) and the
 * stage runs that image by digest, so a deployed digest is always tagged and never expired.
 * Signatures (`sha256-<digest>.sig`) are tags too and are kept.
 */
export class ContainerRegistry extends Construct {
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: ContainerRegistryProps) {
    super(scope, id);
    const untaggedExpiryDays = props.untaggedExpiryDays ?? 14;
    requireProp(
      Number.isInteger(untaggedExpiryDays) && untaggedExpiryDays >= 1,
      'ContainerRegistry',
      'untaggedExpiryDays',
      untaggedExpiryDays,
      'use a whole number of days, at least 1 (long enough for a build to be tagged and promoted)',
    );
    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: props.repositoryName,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.KMS,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          rulePriority: 1,
          description: `Expire untagged images after ${untaggedExpiryDays} days; tagged (deployable) images are kept`,
          tagStatus: ecr.TagStatus.UNTAGGED,
          maxImageAge: Duration.days(untaggedExpiryDays),
        },
      ],
    });
  }
}
