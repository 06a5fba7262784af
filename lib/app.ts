import { Annotations, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  CONFIG_DIR_CONTEXT_KEY,
  DEFAULT_CONFIG_DIR,
  IMAGE_DIGEST_CONTEXT_KEY,
  allStageNames,
  loadDeployableStageConfig,
  readSiteConfig,
  resolveCanaryPlan,
  resolveImageDigest,
  type DeployStage,
} from './config';
import { InfraConfigError } from './errors';
import { acknowledgeControlTowerFindings, controlTowerValidator } from './control-tower';
import { OpenClawStage } from './openclaw-stage';

export interface BuildOptions {
  /**
   * Which stages to build. Each is configured from `<configDir>/<stage>.json` over its shape in
   * lib/config/stages.ts; staging and prod refuse to build with placeholder settings.
   * @default - the `stages` context (comma-separated), else dev plus every stage with a config file
   */
  readonly stages?: readonly DeployStage[];
}

/** CDK context key selecting the stages to build (`-c stages=dev,prod`). */
export const STAGES_CONTEXT_KEY = 'stages';

/**
 * Add one Stage per environment to the app and run cdk-nag's AwsSolutions pack and the AWS Control
 * Tower proactive controls (cfn-guard) over all of them; any unacknowledged finding fails the synth. Shared by bin/openclaw.ts and the tests.
 */
export function buildApp(app: App, options: BuildOptions = {}): Record<string, OpenClawStage> {
  const digestContext: unknown = app.node.tryGetContext(IMAGE_DIGEST_CONTEXT_KEY);
  // Cross-stack references keep today's producer-protecting behaviour, stated so CDK stops guessing.
  setContextDefault(app, CROSS_STACK_REFERENCES_FLAG, 'strong');
  const configDir = String(app.node.tryGetContext(CONFIG_DIR_CONTEXT_KEY) ?? DEFAULT_CONFIG_DIR);
  const configs = selectStages(app, options, configDir).map((name) => loadDeployableStageConfig(name, readSiteConfig(configDir, name)));
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

/**
 * Dev always builds (its examples are usable in a sandbox); staging and prod build when their file
 * exists, so `cdk synth 'dev/*'` works before anyone has written config/prod.json, and a stage that
 * is asked for by name without its file fails on its placeholders instead of vanishing.
 */
function selectStages(app: App, options: BuildOptions, configDir: string): readonly DeployStage[] {
  if (options.stages !== undefined) return options.stages;
  const asked: unknown = app.node.tryGetContext(STAGES_CONTEXT_KEY);
  if (typeof asked === 'string' && asked.trim() !== '') {
    const names = asked.split(',').map((n) => n.trim());
    const unknown = names.filter((n) => !(allStageNames() as readonly string[]).includes(n));
    if (unknown.length > 0) throw new InfraConfigError(`-c ${STAGES_CONTEXT_KEY}=${asked}: unknown stage ${unknown.join(', ')}; use ${allStageNames().join(', ')}`, { stages: asked });
    return names as DeployStage[];
  }
  return allStageNames().filter((name) => name === 'dev' || readSiteConfig(configDir, name) !== undefined);
}

const CROSS_STACK_REFERENCES_FLAG = '@aws-cdk/core:defaultCrossStackReferences';

function setContextDefault(app: App, key: string, value: unknown): void {
  if (app.node.tryGetContext(key) === undefined) app.node.setContext(key, value);
}
