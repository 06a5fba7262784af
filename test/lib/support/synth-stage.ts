import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../../lib/app';
import type { DeployStage } from '../../../lib/config';
import type { OpenClawStage } from '../../../lib/openclaw-stage';

/** A well-formed digest that no registry holds; stands in for CI's output. */
export const TEST_DIGEST = `sha256:${'ab'.repeat(32)}`;

export const STACK_KEYS = ['registry', 'network', 'data', 'services', 'observability'] as const;
export type StackKey = (typeof STACK_KEYS)[number];

export interface SynthesizedStage {
  readonly stage: OpenClawStage;
  readonly templates: Readonly<Record<StackKey, Template>>;
  /** Raw template JSON, for whole-template scans and snapshots. */
  readonly json: Readonly<Record<StackKey, Record<string, unknown>>>;
}

const cache = new Map<string, SynthesizedStage>();

/**
 * cdk.json's context (the feature flags): `cdk synth` hands it to the app, so the tests must too,
 * or they would check a template no deploy produces.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const file = join(__dirname, '..', '..', '..', 'cdk.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { context?: Record<string, unknown> };
  return parsed.context ?? {};
}

/** A test App as `cdk synth` builds it: cdk.json's context under the test's own. */
export function testApp(context: Record<string, unknown>): App {
  return new App({ context: { ...cdkJsonContext(), ...context }, outdir: mkdtempSync(join(tmpdir(), 'openclaw-cdk-')), builtinCloudFormationValidation: false });
}

/**
 * Synthesize one stage exactly as bin/openclaw.ts does (cdk-nag included: an unacknowledged
 * finding throws here), once per test file, and hand out its templates.
 */
export function synthStage(name: DeployStage, context: Record<string, unknown> = { imageDigest: TEST_DIGEST }): SynthesizedStage {
  const key = `${name}:${JSON.stringify(context)}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const app = testApp(context);
  const stage = buildApp(app, { stages: [name] })[name];
  if (stage === undefined) throw new Error(`buildApp did not create stage ${name}`);
  app.synth();
  const assembly = stage.synth();
  const json = {} as Record<StackKey, Record<string, unknown>>;
  const templates = {} as Record<StackKey, Template>;
  for (const k of STACK_KEYS) {
    const template = assembly.getStackArtifact(stage[k].artifactId).template as Record<string, unknown>;
    json[k] = template;
    templates[k] = Template.fromJSON(template);
  }
  const result = { stage, templates, json };
  cache.set(key, result);
  return result;
}

/** Every resource of a type in a template, as [logicalId, properties]. */
export function resourcesOf(template: Record<string, unknown>, type: string): Array<[string, Record<string, any>]> {
  const resources = (template['Resources'] ?? {}) as Record<string, { Type: string; Properties?: Record<string, any> }>;
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}
