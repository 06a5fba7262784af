import { z } from 'zod';
import { InfraConfigError } from '../errors';
import { DEPLOY_STAGES, stageConfigSchema, type DeployStage, type StageConfig, type StageConfigInput } from './schema';
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

/**
 * Validate one stage's configuration. Errors list every bad key as `path=value: problem` so one
 * synth shows all of them.
 */
export function parseStageConfig(input: unknown): StageConfig {
  const result = stageConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return `${path || '(root)'}=${JSON.stringify(valueAt(input, issue.path))}: ${issue.message}`;
  });
  throw new InfraConfigError(`Invalid stage configuration; fix these keys in lib/config/stages.ts:\n  ${lines.join('\n  ')}`, {
    keys: result.error.issues.map((i) => i.path.map(String).join('.')),
  });
}

/** The validated configuration of a named stage. */
export function loadStageConfig(stage: string, configs: Readonly<Record<string, StageConfigInput>> = STAGE_CONFIGS): StageConfig {
  const known = z.enum(DEPLOY_STAGES).safeParse(stage);
  const input = known.success ? configs[known.data] : undefined;
  if (!known.success || input === undefined) {
    throw new InfraConfigError(`Unknown stage ${JSON.stringify(stage)}; use one of ${DEPLOY_STAGES.join(', ')}`, { stage });
  }
  return parseStageConfig(input);
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
