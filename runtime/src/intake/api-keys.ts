import { timingSafeEqual } from 'node:crypto';
import { HttpError } from '../shared/errors';
import { hashApiKey, type ApiKeyEntry } from '../shared/api-keys';

/** Authenticates bearer tokens by comparing hashes in constant time. */
export class ApiKeyAuthenticator {
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

  /** The webhook signing secret of the named key, for the notifier. */
  webhookSecretFor(name: string): string | undefined {
    return this.entries.find(({ entry }) => entry.name === name)?.entry.webhookSecret;
  }
}
