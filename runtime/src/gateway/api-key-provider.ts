import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { OpenClawError } from '../shared/errors';

/** Source of the upstream API key. `refresh()` is called after a 401 so a rotated key is picked up. */
export interface ApiKeyProvider {
  get(): Promise<string>;
  refresh(): Promise<string>;
}

export class SecretUnavailableError extends OpenClawError {}

/** Local mode: the key from the environment (or none, for the stub model). */
export function staticKeyProvider(key: string): ApiKeyProvider {
  return { get: async () => key, refresh: async () => key };
}

export interface SecretsManagerKeyProviderOptions {
  readonly client: SecretsManagerClient;
  readonly secretArn: string;
  /** Re-read the secret this often, so rotation lands without a restart. @default 300_000 */
  readonly ttlMs?: number;
  /**
   * After a 401, re-read the secret at most once per this period: a revoked key answers 401 to
   * every call, and each must not become a Secrets Manager read (cost, API throttling). Within the
   * cooldown `refresh()` returns the key read last. @default 30_000
   */
  readonly refreshCooldownMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Reads the key at run time, never at build time. The secret may be the bare key or JSON with an
 * `apiKey` field. Concurrent callers share one in-flight read; refreshes after a 401 are rate-limited.
 */
export function secretsManagerKeyProvider(options: SecretsManagerKeyProviderOptions): ApiKeyProvider {
  const ttl = options.ttlMs ?? 300_000;
  const now = options.now ?? Date.now;
  let cached: { key: string; at: number } | undefined;
  let inflight: Promise<string> | undefined;
  const cooldown = options.refreshCooldownMs ?? 30_000;
  let lastRefreshAt: number | undefined;

  const load = (): Promise<string> => {
    inflight ??= (async () => {
      try {
        const out = await options.client.send(new GetSecretValueCommand({ SecretId: options.secretArn }));
        const raw = out.SecretString;
        if (raw === undefined || raw.length === 0) {
          throw new SecretUnavailableError('secret_unavailable', `Secret ${options.secretArn} has no SecretString; store the Anthropic API key as a string`, { secretArn: options.secretArn });
        }
        let key = raw.trim();
        if (key.startsWith('{')) {
          const parsed = JSON.parse(key) as { apiKey?: unknown };
          if (typeof parsed.apiKey !== 'string') {
            throw new SecretUnavailableError('secret_unavailable', `Secret ${options.secretArn} is JSON without a string "apiKey" field`, { secretArn: options.secretArn });
          }
          key = parsed.apiKey;
        }
        cached = { key, at: now() };
        return key;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  return {
    get: async () => (cached !== undefined && now() - cached.at < ttl ? cached.key : load()),
    refresh: async () => {
      if (inflight !== undefined) return inflight;
      const at = now();
      if (cached !== undefined && lastRefreshAt !== undefined && at - lastRefreshAt < cooldown) return cached.key;
      // Counted from the attempt, so a read that fails is not retried by the next 401 either.
      lastRefreshAt = at;
      return load();
    },
  };
}
