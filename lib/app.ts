import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IMAGE_DIGEST_CONTEXT_KEY, allStageNames, loadStageConfig, resolveImageDigest, type DeployStage } from './config';
import { OpenClawStage } from './openclaw-stage';

export interface BuildOptions {
  /**
   * Which stages to build.
   * @default - all of dev, staging, prod
   */
  readonly stages?: readonly DeployStage[];
}

/**
 * Add one Stage per environment to the app and run cdk-nag's AwsSolutions pack over all of them;
 * any unacknowledged finding fails the synth. Shared by bin/openclaw.ts and the tests.
 */
export function buildApp(app: App, options: BuildOptions = {}): Record<string, OpenClawStage> {
  const digestContext: unknown = app.node.tryGetContext(IMAGE_DIGEST_CONTEXT_KEY);
  const stages: Record<string, OpenClawStage> = {};
  for (const name of options.stages ?? allStageNames()) {
    const config = loadStageConfig(name);
    stages[name] = new OpenClawStage(app, name, { config, imageDigest: resolveImageDigest(name, digestContext) });
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stages;
}
