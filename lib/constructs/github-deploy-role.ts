import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { requireProp } from '../errors';
import { IMAGE_PULL_ACTIONS } from './container-registry';

export interface GithubDeployRoleProps {
  /** GitHub repository owner (organisation or user). */
  readonly owner: string;
  /** GitHub repository name. */
  readonly repo: string;
  /** GitHub environments whose jobs may assume the role (`sub = repo:OWNER/REPO:environment:NAME`). */
  readonly environments: readonly string[];
  /** Repository the pipeline promotes the image into. */
  readonly repository: ecr.IRepository;
  /**
   * An account has at most one provider per issuer: pass its ARN when one already exists.
   * @default - a provider for token.actions.githubusercontent.com is created
   */
  readonly existingOidcProviderArn?: string;
  /**
   * CDK bootstrap qualifier, used to name the bootstrap roles the pipeline assumes.
   * @default 'hnb659fds'
   */
  readonly bootstrapQualifier?: string;
  /**
   * Fixed role name, so a source repository's policy can name the role by pattern before it exists.
   * @default - a generated name
   */
  readonly roleName?: string;
  /**
   * The repository (usually in another account) the pipeline copies the image from before pushing
   * it into `repository`; the role may pull from it. That repository's policy must allow this
   * account too (ContainerRegistry `pullAccounts`).
   * @default - the role pulls only from `repository`
   */
  readonly promoteFromRepositoryArn?: string;
}

const GITHUB_ISSUER = 'token.actions.githubusercontent.com';

/**
 * The role GitHub Actions assumes through OIDC to promote the image and run `cdk deploy`, so the
 * pipeline holds no long-lived keys. Trust is limited to the named repository's environments;
 * permissions are the CDK bootstrap roles plus pushing to this stage's repository.
 */
export class GithubDeployRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: GithubDeployRoleProps) {
    super(scope, id);
    requireProp(
      props.environments.length > 0 && props.environments.every((e) => e.length > 0 && !e.includes('*')),
      'GithubDeployRole',
      'environments',
      props.environments,
      'list at least one exact GitHub environment name (no wildcards: any branch could claim it)',
    );
    const stack = Stack.of(this);
    const provider =
      props.existingOidcProviderArn === undefined
        ? new iam.OidcProviderNative(this, 'Provider', { url: `https://${GITHUB_ISSUER}`, clientIds: ['sts.amazonaws.com'] })
        : iam.OidcProviderNative.fromOidcProviderArn(this, 'Provider', props.existingOidcProviderArn);
    const subjects = props.environments.map((env) => `repo:${props.owner}/${props.repo}:environment:${env}`);
    this.role = new iam.Role(this, 'Role', {
      ...(props.roleName === undefined ? {} : { roleName: props.roleName }),
      description: `GitHub Actions deploys of ${props.owner}/${props.repo} (${props.environments.join(', ')})`,
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(provider.oidcProviderArn, {
        StringEquals: { [`${GITHUB_ISSUER}:aud`]: 'sts.amazonaws.com', [`${GITHUB_ISSUER}:sub`]: subjects },
      }),
    });
    const qualifier = props.bootstrapQualifier ?? 'hnb659fds';
    const bootstrapRoles = ['deploy', 'file-publishing', 'image-publishing', 'lookup'].map(
      (kind) => `arn:${stack.partition}:iam::${stack.account}:role/cdk-${qualifier}-${kind}-role-${stack.account}-${stack.region}`,
    );
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'CdkBootstrapRoles', actions: ['sts:AssumeRole', 'sts:TagSession'], resources: bootstrapRoles }));
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PromoteImage',
        actions: [
          'ecr:BatchCheckLayerAvailability',
          'ecr:BatchGetImage',
          'ecr:CompleteLayerUpload',
          'ecr:DescribeImages',
          'ecr:DescribeImageScanFindings',
          'ecr:GetDownloadUrlForLayer',
          'ecr:InitiateLayerUpload',
          'ecr:PutImage',
          'ecr:UploadLayerPart',
        ],
        resources: [props.repository.repositoryArn],
      }),
    );
    if (props.promoteFromRepositoryArn !== undefined) {
      this.role.addToPolicy(new iam.PolicyStatement({ sid: 'PullForPromotion', actions: [...IMAGE_PULL_ACTIONS], resources: [props.promoteFromRepositoryArn] }));
    }
    // GetAuthorizationToken has no resource-level permissions: AWS only accepts "*" here.
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'RegistryLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Only ecr:GetAuthorizationToken uses "*": the action has no resource-level permissions. Pushes are limited to this stage\'s repository.',
    });
  }
}
