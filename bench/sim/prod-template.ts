import { App } from 'aws-cdk-lib';
import { buildApp } from '../../lib/app';
import type { FleetScalingSpec } from './scaling-spec';
import { readFleetScaling, type CfnTemplate } from './template-policy';

/**
 * Synthesize the prod stage in-process (the same buildApp that bin/openclaw.ts runs, cdk-nag
 * included) and read the worker service's scaling from the Services stack's template, so the
 * simulation follows whatever the infrastructure code says today.
 */
/** `configDir`: where config/prod.json lives (a site's own, or the tests' fixture). @default the app's default */
export function prodWorkerScaling(configDir?: string): FleetScalingSpec {
  const app = new App(configDir === undefined ? {} : { context: { configDir } });
  const stages = buildApp(app, { stages: ['prod'] });
  const prod = stages['prod'];
  if (prod === undefined) throw new Error('buildApp did not create the prod stage');
  const stack = prod.services;
  const template = prod.synth().getStackByName(stack.stackName).template as CfnTemplate;
  return readFleetScaling(template, {
    source: `prod/${stack.stackName}`,
    targetMatches: (logicalId) => logicalId.startsWith('Worker'),
  });
}
