import { timingSafeEqual } from 'node:crypto';
import { HttpError } from '../shared/errors';
import { hashApiKey, type ApiKeyEntry } from '../shared/api-keys';
import type { SecretSource } from '../shared/secret-source';

/** Who is calling: the entry of the bearer token's key, or an HttpError (401, or 503 while keys are not set). */
export interface Authenticator {
  authenticate(authorization: string | undefined): ApiKeyEntry | Promise<ApiKeyEntry>;
}

/** Authenticates bearer tokens by comparing hashes in constant time. */
export class ApiKeyAuthenticator implements Authenticator {
  private readonly entries: readonly { entry: ApiKeyEntry; digest: Buffer }[];

  constructor(entries: readonly ApiKeyEntry[]) {
    this.entries = entries.map((entry) => ({ entry, digest: Buffer.from(entry.sha256, 'hex') }));
  }

  authenticate(authorization: string | undefined): ApiKeyEntry {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (match === null) {
      throw new HttpError(401, 'authentication_error', 'Missing bearer token: send "Authorization: Bearer <api key>"', {}, { 'www-authenticate': 'Bearer' });
    }
    const digest = Buffer.from(hashApiKey(match[1] as string), 'hex');
    let found: ApiKeyEntry | undefined;
    // Compare against every entry so timing does not reveal which (or whether any) key matched early.
    for (const { entry, digest: known } of this.entries) {
      if (timingSafeEqual(digest, known) && found === undefined) found = entry;
    }
    if (found === undefined) throw new HttpError(401, 'authentication_error', 'Invalid API key', {}, { 'www-authenticate': 'Bearer' });
    return found;
  }
}

/**
 * Authenticates against the key list's current value: rebuilt when the secret changes, and a 503
 * (retryable, the operator's fault, not the client's) while the secret is not set or not usable.
 * `notReadyReason` feeds the intake's /ready.
 */
export class SecretBackedAuthenticator implements Authenticator {
  private current: { keys: readonly ApiKeyEntry[]; auth: ApiKeyAuthenticator } | undefined;

  constructor(private readonly source: SecretSource<readonly ApiKeyEntry[]>) {}

  async authenticate(authorization: string | undefined): Promise<ApiKeyEntry> {
    const state = await this.source.state();
    if (!state.ready) {
      throw new HttpError(503, 'service_unavailable', 'The API keys are not configured yet; retry later', {}, { 'retry-after': '30' });
    }
    if (this.current?.keys !== state.value) this.current = { keys: state.value, auth: new ApiKeyAuthenticator(state.value) };
    return this.current.auth.authenticate(authorization);
  }

  /** Why the intake cannot authenticate anyone yet (naming the secret and the fix), or undefined when it can. */
  async notReadyReason(): Promise<string | undefined> {
    const state = await this.source.state();
    return state.ready ? undefined : `${state.message}; fix: ${state.fix}`;
  }
}
