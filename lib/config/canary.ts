import { z } from 'zod';
import { InfraConfigError } from '../errors';

/**
 * The agent canary of a stage: a candidate version (image digest, prompts, model) running as its
 * own worker pool next to the stable one, fed a share of new tasks, compared with it by one alarm
 * and rolled back (share set to 0) when it is worse. See lib/canary/rollback-rule.ts for the rule
 * the thresholds feed and README "Agent canary" for the commands.
 */
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const canaryThresholdsSchema = z.strictObject({
  /** Finished tasks each version needs in the window before anything is decided (3 tasks decide nothing). */
  minTasks: z.number().int().min(10).max(100_000).default(30),
  /** The window the versions are compared over (minutes); the alarm's period. */
  windowMinutes: z.number().int().min(5).max(1440).default(30),
  /** Completion-rate drop (candidate below stable, 0..1) that rolls back once it is also significant. */
  maxCompletionDrop: z.number().gt(0).lt(1).default(0.05),
  /** The drop must also be this many standard errors (two-proportion z-test), so noise at the minimum sample does not roll back. */
  completionZ: z.number().min(1).max(10).default(4),
  /** Candidate cost per task above stable by more than this fraction rolls back (0.25 = +25 %). */
  maxCostIncrease: z.number().gt(0).max(10).default(0.3),
  /** Candidate tool calls per task above stable by more than this fraction rolls back. */
  maxToolCallsIncrease: z.number().gt(0).max(10).default(0.5),
  /** Candidate p95 task duration above stable by more than this fraction rolls back. */
  maxP95DurationIncrease: z.number().gt(0).max(10).default(0.5),
});

export const canaryConfigSchema = z
  .strictObject({
    /** Build the candidate pool, its lanes, the share parameter, the comparison alarm and the rollback. */
    enabled: z.boolean(),
    /**
     * Image the candidate runs; `-c canaryDigest=sha256:...` overrides it (what `npm run canary -- start`
     * prints). Unset and no context: the candidate runs the stable digest (a prompt or model canary).
     */
    digest: z.string().regex(DIGEST, 'must be sha256: followed by 64 lowercase hex characters').optional(),
    /** PROMPTS_DIR inside the candidate's image; `-c canaryPrompts=` overrides. Unset: the image's own prompts. */
    promptsDir: z.string().regex(/^[A-Za-z0-9_./-]{1,200}$/, 'must be a path inside the image such as dist/prompts-next').optional(),
    /** Model the candidate asks for; `-c canaryModel=` overrides. Unset: the stage's model. */
    model: z.string().min(1).optional(),
    /** Candidate workers when idle (0 lets the pool scale to zero while the share is 0). */
    minTasks: z.number().int().min(0).default(0),
    /** The candidate pool's ceiling: a bad candidate never takes more than this much capacity. */
    maxTasks: z.number().int().min(1).max(1000).default(10),
    thresholds: canaryThresholdsSchema.default(canaryThresholdsSchema.parse({})),
  })
  .superRefine((c, ctx) => {
    if (c.minTasks > c.maxTasks) {
      ctx.addIssue({ code: 'custom', path: ['minTasks'], message: `minTasks ${c.minTasks} exceeds maxTasks ${c.maxTasks}; raise maxTasks or lower minTasks` });
    }
  });

export type CanaryConfig = z.infer<typeof canaryConfigSchema>;
export type CanaryConfigInput = z.input<typeof canaryConfigSchema>;
export type CanaryThresholds = z.infer<typeof canaryThresholdsSchema>;
export const DEFAULT_CANARY_THRESHOLDS: CanaryThresholds = canaryThresholdsSchema.parse({});

/** CDK context keys that override the stage's canary settings: what `npm run canary -- start` prints. */
export const CANARY_CONTEXT_KEYS = { digest: 'canaryDigest', prompts: 'canaryPrompts', model: 'canaryModel' } as const;

/** The candidate a stage runs: everything resolved (context over config, config over the stable values). */
export interface CanaryPlan {
  /** Image digest of the candidate pool. */
  readonly digest: string;
  /** PROMPTS_DIR inside the candidate's image; undefined: the image's own prompts. */
  readonly promptsDir?: string;
  readonly model: string;
  readonly minTasks: number;
  readonly maxTasks: number;
  readonly thresholds: CanaryThresholds;
}

/**
 * The canary of a stage, or undefined when it has none. Context values are validated here with
 * the same rules as the config, so a typo in `-c canaryDigest=` fails the synth naming the key.
 */
export function resolveCanaryPlan(
  config: CanaryConfig | undefined,
  stable: { readonly digest: string; readonly model: string },
  context: (key: string) => unknown,
): CanaryPlan | undefined {
  if (config === undefined || !config.enabled) return undefined;
  const read = (key: string, schema: z.ZodType<string>): string | undefined => {
    const raw = context(key);
    if (raw === undefined || raw === null || raw === '') return undefined;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      throw new InfraConfigError(`-c ${key}=${JSON.stringify(raw)} is invalid: ${parsed.error.issues.map((i) => i.message).join('; ')}`, { key });
    }
    return parsed.data;
  };
  const shape = canaryConfigSchema.shape;
  const digest = read(CANARY_CONTEXT_KEYS.digest, shape.digest.unwrap()) ?? config.digest ?? stable.digest;
  const promptsDir = read(CANARY_CONTEXT_KEYS.prompts, shape.promptsDir.unwrap()) ?? config.promptsDir;
  const model = read(CANARY_CONTEXT_KEYS.model, shape.model.unwrap()) ?? config.model ?? stable.model;
  return {
    digest,
    ...(promptsDir === undefined ? {} : { promptsDir }),
    model,
    minTasks: config.minTasks,
    maxTasks: config.maxTasks,
    thresholds: config.thresholds,
  };
}
