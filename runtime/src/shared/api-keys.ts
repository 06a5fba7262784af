/**
 * The API-key list: the contract between the secret the stacks create and the intake that
 * authenticates with it. It holds names, hashes and limits only; webhook-signing keys are a
 * separate secret (webhook-signing-keys.ts) that only the worker reads.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from './errors';
import type { Logger } from './logger';
import { secretsManagerSource, staticSecret, type SecretSource } from './secret-source';
import { PRIORITIES, type Priority } from './task-model';
import { budgetEntitlementSchema, definedBudget, type BudgetEntitlement } from './task-budget';
import { describeIssues } from './zod-issues';

/** A client's identity. Only the SHA-256 of the key is ever stored. */
export interface ApiKeyEntry {
  readonly name: string;
  readonly sha256: string;
  /** The highest priority this key may request. */
  readonly maxPriority: Priority;
  /** Requests per minute allowed for this key. */
  readonly ratePerMinute: number;
  /** What this key's tasks may do; absent: every tool the worker offers. */
  readonly entitlements?: ApiKeyEntitlements;
}

/** Limits a key's tasks carry to the worker (stored on the task row at intake). */
export interface ApiKeyEntitlements {
  /**
   * The tools this key's tasks may use (tool names). A tool not listed is never offered to the
   * model for the task, and a call to it anyway is refused. Absent: every tool the worker offers.
   */
  readonly tools?: readonly string[];
  /** Budgets of this key's tasks: `default` when a request sets none, `ceiling` it may not exceed. */
  readonly budgets?: BudgetEntitlement;
  /**
   * May decide approvals (`POST /v1/tasks/{id}/approvals/{approvalId}`) on this key's tasks: the
   * human-approval gate of `requires_approval` tools. @default false
   */
  readonly canApprove?: boolean;
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const entitlementsSchema = z
  .object({
    tools: z
      .array(z.string().regex(TOOL_NAME, 'must be a tool name (letters, digits, _ and -, at most 64)'))
      .max(256)
      .refine((t) => new Set(t).size === t.length, 'lists a tool twice')
      .optional(),
    budgets: budgetEntitlementSchema.optional(),
    canApprove: z.boolean().optional(),
  })
  .strict();

const entrySchema = z.object({
  name: z.string().min(1).max(64),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (sha256 of the key)'),
  maxPriority: z.enum(PRIORITIES).default('normal'),
  ratePerMinute: z.number().int().positive().default(600),
  entitlements: entitlementsSchema.optional(),
});

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export function parseApiKeys(json: string, source: string): ApiKeyEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ConfigError(`${source} is not valid JSON; expected [{"name","sha256","maxPriority","ratePerMinute"}]`, { source });
  }
  const parsed = z.array(entrySchema).min(1).safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${source} is invalid: ${describeIssues(parsed.error)}`, { source });
  const names = parsed.data.map((e) => e.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new ConfigError(`${source} lists the key name "${duplicate}" twice; names must be unique`, { source });
  return parsed.data.map(({ entitlements, ...rest }) => ({
    ...rest,
    ...(entitlements !== undefined ? { entitlements: entitlementsOf(entitlements) } : {}),
  }));
}

/** Drop unset keys, so the entry holds only what was configured (exactOptionalPropertyTypes). */
function entitlementsOf(raw: z.infer<typeof entitlementsSchema>): ApiKeyEntitlements {
  const budgets = raw.budgets === undefined ? undefined : {
    ...(raw.budgets.default !== undefined ? { default: definedBudget(raw.budgets.default) } : {}),
    ...(raw.budgets.ceiling !== undefined ? { ceiling: definedBudget(raw.budgets.ceiling) } : {}),
  };
  return {
    ...(raw.tools !== undefined ? { tools: raw.tools } : {}),
    ...(budgets !== undefined ? { budgets } : {}),
    ...(raw.canApprove !== undefined ? { canApprove: raw.canApprove } : {}),
  };
}

export interface ApiKeySourceOptions {
  /** Secrets Manager secret holding the JSON array (AWS). */
  readonly secretArn?: string;
  /** The JSON array itself (local runs). Wins over `secretArn`. */
  readonly json?: string;
  /** Required with `secretArn`. */
  readonly secrets?: Pick<SecretsManagerClient, 'send'>;
  /** Where `secret.not_ready` / `secret.ready` are logged. */
  readonly logger?: Logger;
  /** Clock of the re-read cache. @default Date.now */
  readonly now?: () => number;
}

/** The `--secret-string` argument operators are told to use; README, Deploying, shows the file's shape. */
export const API_KEYS_VALUE_ARGUMENT = 'file://api-keys.json';

/**
 * The key list, from the environment (local: parsed once, a bad value fails the start) or from
 * Secrets Manager (AWS: re-read every minute, so keys added or revoked land without a restart; while
 * the secret still holds the stack's initial value or is malformed, the intake answers not-ready).
 */
export function apiKeySource(options: ApiKeySourceOptions): SecretSource<readonly ApiKeyEntry[]> {
  if (options.json !== undefined) return staticSecret(parseApiKeys(options.json, 'INTAKE_API_KEYS'));
  if (options.secretArn === undefined || options.secrets === undefined) {
    throw new ConfigError('No API keys configured: set API_KEYS_SECRET_ARN (AWS) or INTAKE_API_KEYS (local JSON)', {});
  }
  return secretsManagerSource({
    client: options.secrets,
    secretId: options.secretArn,
    label: 'intake API keys, a JSON array of {name, sha256, maxPriority, ratePerMinute}',
    parse: parseApiKeys,
    valueArgument: API_KEYS_VALUE_ARGUMENT,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}
