import { z } from 'zod';
import { InfraConfigError } from '../errors';
import { DEPLOY_STAGES, stageConfigSchema, type DeployStage, type StageConfig, type StageConfigInput } from './schema';
import { deepMerge } from './merge';
import { placeholderProblems } from './placeholders';
import type { SiteConfig } from './site-config';
import { STAGE_CONFIGS } from './stages';

export * from './schema';
export { STAGE_CONFIGS } from './stages';
export { resolveImageDigest, DEV_PLACEHOLDER_IMAGE_DIGEST, IMAGE_DIGEST_CONTEXT_KEY, type ImageDigestResolution } from './image-digest';
export {
  CANARY_CONTEXT_KEYS,
  canaryConfigSchema,
  canaryThresholdsSchema,
  DEFAULT_CANARY_THRESHOLDS,
  resolveCanaryPlan,
  type CanaryConfig,
  type CanaryConfigInput,
  type CanaryPlan,
  type CanaryThresholds,
} from './canary';
export { deriveCapacityPlan, type CapacityPlan } from './capacity-plan';
export { CONFIG_DIR_CONTEXT_KEY, DEFAULT_CONFIG_DIR, readSiteConfig, type SiteConfig } from './site-config';
export { EXAMPLE_ACCOUNTS, UPSTREAM_GITHUB, placeholderProblems, type PlaceholderProblem } from './placeholders';

/**
 * Validate one stage's configuration. Errors list every bad key as `path=value: problem` so one
 * synth shows all of them.
 */
export function parseStageConfig(input: unknown, source = 'lib/config/stages.ts'): StageConfig {
  const result = stageConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return `${path || '(root)'}=${JSON.stringify(valueAt(input, issue.path))}: ${issue.message}`;
  });
  throw new InfraConfigError(`Invalid stage configuration; fix these keys in ${source}:\n  ${lines.join('\n  ')}`, {
    keys: result.error.issues.map((i) => i.path.map(String).join('.')),
  });
}

/**
 * The validated configuration of a named stage: its shape from lib/config/stages.ts with the
 * adopter's file (`config/<stage>.json`) laid over it. Without a file, the example values.
 */
export function loadStageConfig(stage: string, site?: SiteConfig, configs: Readonly<Record<string, StageConfigInput>> = STAGE_CONFIGS): StageConfig {
  const known = z.enum(DEPLOY_STAGES).safeParse(stage);
  const input = known.success ? configs[known.data] : undefined;
  if (!known.success || input === undefined) {
    throw new InfraConfigError(`Unknown stage ${JSON.stringify(stage)}; use one of ${DEPLOY_STAGES.join(', ')}`, { stage });
  }
  return parseStageConfig(deepMerge(input, site?.values), site === undefined ? 'lib/config/stages.ts' : `${site.path} (over lib/config/stages.ts)`);
}

/**
 * A stage's configuration as a deploy needs it: validated, and for staging and prod free of the
 * examples' placeholders. Every leftover is listed with its key and the fix, in one error.
 */
export function loadDeployableStageConfig(stage: string, site: SiteConfig | undefined): StageConfig {
  const config = loadStageConfig(stage, site);
  const problems = placeholderProblems(config);
  if (problems.length === 0) return config;
  const file = site?.path ?? `config/${stage}.json (missing: copy config/${stage}.example.json)`;
  const lines = problems.map((p) => `${p.key}=${JSON.stringify(p.value)}: ${p.fix}`);
  throw new InfraConfigError(`Stage ${stage} still has placeholder settings; set these keys in ${file}:\n  ${lines.join('\n  ')}`, {
    stage,
    keys: problems.map((p) => p.key),
  });
}

export function allStageNames(): readonly DeployStage[] {
  return DEPLOY_STAGES;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}
