import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
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
  /**
   * Delete the images when the repository is deleted (with `RemovalPolicy.DESTROY`), so
   * `cdk destroy` can remove it and a redeploy can create the same name again.
   * @default false
   */
  readonly emptyOnDelete?: boolean;
  /**
   * Other accounts whose deploy roles copy images out of this repository (cross-account promotion).
   * Each is allowed the read-only pull actions, and only for roles named by `pullRoleNamePattern`.
   * @default - no other account may pull
   */
  readonly pullAccounts?: readonly string[];
  /**
   * IAM role name (with `*`) in the pulling accounts that may pull.
   * @default 'openclaw-*-github-deploy' (GithubDeployRole's names)
   */
  readonly pullRoleNamePattern?: string;
}

/** What copying an image out of a repository needs (skopeo: manifest, layers, and the digest check). */
export const IMAGE_PULL_ACTIONS = ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:GetDownloadUrlForLayer'] as const;

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
      emptyOnDelete: props.emptyOnDelete ?? false,
      lifecycleRules: [
        {
          rulePriority: 1,
          description: `Expire untagged images after ${untaggedExpiryDays} days; tagged (deployable) images are kept`,
          tagStatus: ecr.TagStatus.UNTAGGED,
          maxImageAge: Duration.days(untaggedExpiryDays),
        },
      ],
    });
    const pattern = props.pullRoleNamePattern ?? 'openclaw-*-github-deploy';
    for (const account of props.pullAccounts ?? []) {
      requireProp(/^\d{12}$/.test(account), 'ContainerRegistry', 'pullAccounts', account, 'list 12-digit AWS account IDs');
      // The account principal plus a role-name condition: naming the role itself would make the
      // policy fail to apply before that account's role exists (ECR validates principals), and the
      // source stage is deployed first.
      this.repository.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `PromotionPull${account}`,
          principals: [new iam.AccountPrincipal(account)],
          actions: [...IMAGE_PULL_ACTIONS],
          conditions: { ArnLike: { 'aws:PrincipalArn': `arn:${Stack.of(this).partition}:iam::${account}:role/${pattern}` } },
        }),
      );
    }
  }
}
