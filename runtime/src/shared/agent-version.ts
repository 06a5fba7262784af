import { createHash } from 'node:crypto';

/**
 * The agent canary's contract between the intake (which routes), the workers (which run and
 * measure) and the CDK app (which builds the candidate pool, its queues and the comparison alarm).
 *
 * An agent version is what a worker pool runs: an image digest, a prompt set and a model. A stage
 * has at most two at a time, so tasks, spans and metrics carry the pool's role, `stable` or
 * `candidate`: the alarm that compares them is fixed in the template and must not depend on
 * hashes only known after the image is built. Which digest, prompts and model each role runs is
 * recorded next to the share (the version descriptor parameter) and on every task row's
 * promptVersion.
 */
export const AGENT_VERSIONS = ['stable', 'candidate'] as const;
export type AgentVersion = (typeof AGENT_VERSIONS)[number];

export function isAgentVersion(value: unknown): value is AgentVersion {
  return typeof value === 'string' && (AGENT_VERSIONS as readonly string[]).includes(value);
}

/** Share of new tasks sent to the candidate, in percent. */
export const CANARY_SHARE_MIN = 0;
export const CANARY_SHARE_MAX = 100;

/**
 * The share parameter's values: a percentage from 0 to 100 with at most two decimals ("10",
 * "2.5", "0"). The CDK gives the SSM parameter this allowedPattern, the rollback writes "0", the
 * CLI writes what `--share` says, and the intake refuses anything else (and keeps its last value).
 */
export const CANARY_SHARE_PATTERN = '^(100(\\.0{1,2})?|[0-9]{1,2}(\\.[0-9]{1,2})?)$';
const SHARE = new RegExp(CANARY_SHARE_PATTERN);

/** The share a parameter value means, or undefined when it is not a valid share. */
export function parseCanaryShare(value: string | undefined): number | undefined {
  const v = (value ?? '').trim();
  return SHARE.test(v) ? Number(v) : undefined;
}

/**
 * A task's place in [0, 1): the first 48 bits of SHA-256 over its ID. Deterministic, so a retry
 * with the same Idempotency-Key (same task ID) lands on the same version, and uniform, so a share
 * of 10 sends 10 % of tasks.
 */
export function canaryBucket(taskId: string): number {
  const digest = createHash('sha256').update(taskId).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** The version a task runs on at this share (percent): the candidate when its bucket falls below the share. */
export function routeTask(taskId: string, sharePercent: number): AgentVersion {
  if (!(sharePercent > 0)) return 'stable';
  return canaryBucket(taskId) * 100 < sharePercent ? 'candidate' : 'stable';
}
