import { Annotations, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IMAGE_DIGEST_CONTEXT_KEY, allStageNames, loadStageConfig, resolveCanaryPlan, resolveImageDigest, type DeployStage } from './config';
import { acknowledgeControlTowerFindings, controlTowerValidator } from './control-tower';
import { OpenClawStage } from './openclaw-stage';

export interface BuildOptions {
  /**
   * Which stages to build.
   * @default - all of dev, staging, prod
   */
  readonly stages?: readonly DeployStage[];
}

/**
 * Add one Stage per environment to the app and run cdk-nag's AwsSolutions pack and the AWS Control
 * Tower proactive controls (cfn-guard) over all of them; any unacknowledged finding fails the synth. Shared by bin/openclaw.ts and the tests.
 */
export function buildApp(app: App, options: BuildOptions = {}): Record<string, OpenClawStage> {
  const digestContext: unknown = app.node.tryGetContext(IMAGE_DIGEST_CONTEXT_KEY);
  // Cross-stack references keep today's producer-protecting behaviour, stated so CDK stops guessing.
  setContextDefault(app, CROSS_STACK_REFERENCES_FLAG, 'strong');
  const configs = (options.stages ?? allStageNames()).map((name) => loadStageConfig(name));
  for (const config of configs) {
    // The VPC checks its AZs against the account's; answering from config keeps synth offline.
    setContextDefault(app, `availability-zones:account=${config.env.account}:region=${config.env.region}`, config.network.availabilityZones);
  }
  const stages: Record<string, OpenClawStage> = {};
  for (const config of configs) {
    const name = config.stage;
    const image = resolveImageDigest(name, digestContext);
    // `-c canaryDigest=` and friends apply to every selected stage that enables a canary.
    const canary = resolveCanaryPlan(config.canary, { digest: image.digest, model: config.model }, (key) => app.node.tryGetContext(key));
    const stage = new OpenClawStage(app, name, { config, imageDigest: image.digest, ...(canary === undefined ? {} : { canary }) });
    if (image.placeholder) {
      // Only the services stack runs the image, so Registry and Network deploy without a digest
      // (first-time setup). An error annotation fails any synth or deploy that selects it.
      const services = Annotations.of(stage.services);
      if (image.problem === undefined) {
        services.addWarningV2('openclaw:placeholder-image', `Stage ${name} runs the placeholder image ${image.digest}; pass -c imageDigest=sha256:... to deploy a real build`);
      } else {
        services.addError(image.problem);
      }
    }
    acknowledgeControlTowerFindings(stage, config);
    stages[name] = stage;
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), controlTowerValidator());
  return stages;
}

const CROSS_STACK_REFERENCES_FLAG = '@aws-cdk/core:defaultCrossStackReferences';

function setContextDefault(app: App, key: string, value: unknown): void {
  if (app.node.tryGetContext(key) === undefined) app.node.setContext(key, value);
}
