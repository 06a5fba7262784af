/**
 * The webhook-signing keys: the worker's only secret. A JSON object from API-key name to the HMAC
 * key that signs that client's completion webhooks. It is its own secret, apart from the intake's
 * API-key list, so the worker reads only what it signs with and the intake never sees these keys.
 */
import { z } from 'zod';
import { ConfigError } from './errors';
import { configuredSecretSource, requireReady, type ConfiguredSecretOptions, type SecretSource } from './secret-source';
import { describeIssues } from './zod-issues';

/** API-key name → signing key. A client without an entry gets no webhooks (never unsigned ones). */
export type WebhookSigningKeys = ReadonlyMap<string, string>;

const keysSchema = z.record(
  z.string().min(1).max(64),
  z.string().min(32, 'must be at least 32 characters (e.g. 32 random bytes, base64url)'),
);

/** The value the stacks create the secret with: valid, and signing for nobody until keys are added. */
export const EMPTY_WEBHOOK_SIGNING_KEYS = '{}';

/** Parse `{"<api key name>": "<signing key>"}`; errors name the entry, never a key. */
export function parseWebhookSigningKeys(json: string, source: string): WebhookSigningKeys {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ConfigError(`${source} is not valid JSON; expected {"<api key name>": "<signing key, 32+ characters>"}`, { source });
  }
  const parsed = keysSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${source} is invalid: ${describeIssues(parsed.error)}`, { source });
  return new Map(Object.entries(parsed.data));
}

/** Where the worker finds the webhook-signing keys (a JSON object): WEBHOOK_SIGNING_KEYS locally, a secret in AWS. */
export type WebhookSigningKeySourceOptions = ConfiguredSecretOptions;

/**
 * The signing keys, or undefined when none are configured (no webhooks at all). From Secrets
 * Manager they are re-read every minute, so a client's key added after the deploy signs its next
 * webhook without a restart.
 */
export function webhookSigningKeySource(options: WebhookSigningKeySourceOptions): SecretSource<WebhookSigningKeys> | undefined {
  return configuredSecretSource(options, {
    envName: 'WEBHOOK_SIGNING_KEYS',
    label: 'webhook-signing keys, a JSON object {"<api key name>": "<signing key>"}',
    parse: parseWebhookSigningKeys,
    valueArgument: 'file://webhook-signing-keys.json',
  });
}

/**
 * `secretFor` for the WebhookNotifier: the named client's key, undefined when it has none (the
 * notifier records that and sends nothing unsigned), and an error while the secret cannot be read,
 * so the delivery is retried with the message instead of being recorded as failed.
 */
export function signingKeyLookup(source: SecretSource<WebhookSigningKeys>): (keyName: string) => Promise<string | undefined> {
  return async (keyName) => (await requireReady(source, { purpose: 'webhook signing' })).get(keyName);
}
