import { Annotations, CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { ContainerRegistry } from '../constructs/container-registry';
import { GithubDeployRole } from '../constructs/github-deploy-role';
import { ECR_PUBLIC_CACHE_PREFIX } from '../constructs/otel-collector-sidecar';

const DEPLOY_ROLE_PREFIX = 'openclaw';

/** The GitHub deploy role's fixed name, which the dev repository's policy matches by pattern. */
export function deployRoleName(stage: string): string {
  return `${DEPLOY_ROLE_PREFIX}-${stage}-github-deploy`;
}

export interface RegistryStackProps extends StackProps {
  readonly config: StageConfig;
}

/** The stage account's image repository and the GitHub OIDC role that promotes into it and deploys. */
export class RegistryStack extends Stack {
  readonly repository: ecr.IRepository;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);
    const { config } = props;
    const registry = new ContainerRegistry(this, 'Registry', {
      repositoryName: `openclaw-${config.stage}`,
      // Its name is fixed (CI and deploy.yml use it), so a retained repository would collide with
      // the next deploy after `cdk destroy`: stages that do not keep data remove it, images and all.
      removalPolicy: config.data.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      emptyOnDelete: !config.data.retain,
      pullAccounts: config.registry.pullAccounts,
      pullRoleNamePattern: `${DEPLOY_ROLE_PREFIX}-*-github-deploy`,
    });
    this.repository = registry.repository;
    if (config.tracing.collector) {
      // Tasks cannot reach public.ecr.aws; ECR caches the ADOT collector image on first pull.
      new ecr.CfnPullThroughCacheRule(this, 'EcrPublicCache', { ecrRepositoryPrefix: ECR_PUBLIC_CACHE_PREFIX, upstreamRegistryUrl: 'public.ecr.aws' });
    }
    const from = config.registry.promoteFrom;
    const { owner, repo } = config.github;
    if (owner === undefined || repo === undefined) {
      // No repository named: no role at all, rather than one trusting a default someone else owns.
      Annotations.of(this).addWarningV2(
        'openclaw:no-github-role',
        `Stage ${config.stage} has no GitHub deploy role: set github.owner and github.repo in config/${config.stage}.json to deploy from GitHub Actions`,
      );
    } else {
      const deploy = new GithubDeployRole(this, 'GithubDeploy', {
        owner,
        repo,
        environments: [config.github.environment],
        repository: registry.repository,
        roleName: deployRoleName(config.stage),
        ...(from === undefined ? {} : { promoteFromRepositoryArn: `arn:${this.partition}:ecr:${from.region}:${from.account}:repository/${from.repositoryName}` }),
        ...(config.github.existingOidcProviderArn === undefined ? {} : { existingOidcProviderArn: config.github.existingOidcProviderArn }),
      });
      // The values the stage's GitHub environment needs (vars.AWS_DEPLOY_ROLE_ARN, vars.ECR_REPOSITORY).
      new CfnOutput(this, 'DeployRoleArn', { value: deploy.role.roleArn, description: 'GitHub environment variable AWS_DEPLOY_ROLE_ARN' });
    }
    new CfnOutput(this, 'RepositoryName', { value: registry.repository.repositoryName, description: 'GitHub environment variable ECR_REPOSITORY' });
  }
}
