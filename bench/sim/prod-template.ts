import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../lib/app';
import type { FleetScalingSpec } from './scaling-spec';
import { readFleetScaling, type CfnTemplate } from './template-policy';

/**
 * Synthesize the prod stage in-process (the same buildApp that bin/openclaw.ts runs, cdk-nag
 * included) and read the worker service's scaling from the Services stack's template, so the
 * simulation follows whatever the infrastructure code says today.
 *
 * `configDir`: where config/prod.json lives (a site's own, or the tests' fixture). @default the app's default
 * `workerMaxTasks`: a what-if, set the way an operator would: services.worker.maxTasks laid over
 * that prod.json (in a temporary copy). @default prod's own
 */
export function prodWorkerScaling(configDir?: string, workerMaxTasks?: number): FleetScalingSpec {
  const dir = workerMaxTasks === undefined ? configDir : withWorkerMaxTasks(configDir ?? 'config', workerMaxTasks);
  const app = new App(dir === undefined ? {} : { context: { configDir: dir } });
  const stages = buildApp(app, { stages: ['prod'] });
  const prod = stages['prod'];
  if (prod === undefined) throw new Error('buildApp did not create the prod stage');
  const stack = prod.services;
  const template = prod.synth().getStackByName(stack.stackName).template as CfnTemplate;
  return readFleetScaling(template, {
    source: `prod/${stack.stackName}${workerMaxTasks === undefined ? '' : ` (services.worker.maxTasks ${workerMaxTasks})`}`,
    targetMatches: (logicalId) => logicalId.startsWith('Worker'),
  });
}

function withWorkerMaxTasks(configDir: string, maxTasks: number): string {
  const source = join(configDir, 'prod.json');
  type Json = Record<string, unknown>;
  const site = existsSync(source) ? (JSON.parse(readFileSync(source, 'utf8')) as Json) : {};
  const dir = mkdtempSync(join(tmpdir(), 'fleet-sim-config-'));
  const siteServices = (site['services'] ?? {}) as Json;
  const services = { ...siteServices, worker: { ...((siteServices['worker'] ?? {}) as Json), maxTasks } };
  writeFileSync(join(dir, 'prod.json'), JSON.stringify({ ...site, services }));
  return dir;
}
