/**
 * Secrets the stacks create and operators fill: read at run time with a short cache, so a value put
 * after the deploy (or rotated) lands without a restart, and a secret that is not set yet makes the
 * service answer not-ready instead of crashing. The contract with the template is
 * `UNSET_SECRET_MARKER`: every secret a stack creates starts as `unsetSecretValue(...)`.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError, errorMessage, OpenClawError } from './errors';
import type { Logger } from './logger';

/** The first word of every secret a stack creates before an operator has put the real value. */
export const UNSET_SECRET_MARKER = 'OPENCLAW_UNSET';

/** The initial value a stack gives a secret: recognisably unset, and saying what belongs there. */
export function unsetSecretValue(what: string): string {
  return `${UNSET_SECRET_MARKER}: put ${what} here with aws secretsmanager put-secret-value (README, Deploying)`;
}

/** The exact command that sets a secret; `valueArgument` is e.g. `file://api-keys.json`. */
export function putSecretCommand(secretId: string, valueArgument: string): string {
  return `aws secretsmanager put-secret-value --secret-id ${secretId} --secret-string ${valueArgument}`;
}

/** Why a secret cannot be used yet: `unset` (still the stack's initial value), `invalid` (the parser refused it), `unreadable` (the API call failed). */
export type SecretProblem = 'unset' | 'invalid' | 'unreadable';

export type SecretState<T> =
  | { readonly ready: true; readonly value: T }
  | {
      readonly ready: false;
      readonly problem: SecretProblem;
      /** What is wrong, naming the secret; never the secret's value. */
      readonly message: string;
      /** The command that fixes it. */
      readonly fix: string;
    };

/** A secret's current, parsed value, or why there is none. */
export interface SecretSource<T> {
  state(): Promise<SecretState<T>>;
}

/** Thrown by `requireReady` while a secret is not usable. */
export class SecretNotReadyError extends OpenClawError {
  constructor(state: Extract<SecretState<unknown>, { ready: false }>, context: Record<string, unknown>) {
    super('secret_not_ready', `${state.message}; fix: ${state.fix}`, { ...context, problem: state.problem });
  }
}

/** The value, or a SecretNotReadyError that names the secret and the command. */
export async function requireReady<T>(source: SecretSource<T>, context: Record<string, unknown> = {}): Promise<T> {
  const state = await source.state();
  if (state.ready) return state.value;
  throw new SecretNotReadyError(state, context);
}

/** Local runs: a value from the environment, parsed once. A bad value is the caller's start-up error. */
export function staticSecret<T>(value: T): SecretSource<T> {
  const state: SecretState<T> = { ready: true, value };
  return { state: async () => state };
}

export interface SecretsManagerSourceOptions<T> {
  readonly client: Pick<SecretsManagerClient, 'send'>;
  /** ARN (or name) of the secret. */
  readonly secretId: string;
  /** What the secret holds, for messages: e.g. `the intake API keys (JSON array)`. */
  readonly label: string;
  /** Parses the SecretString; throws (a ConfigError naming the problem, never the value) when it is wrong. */
  readonly parse: (text: string, source: string) => T;
  /** The `--secret-string` argument shown in the fix, e.g. `file://api-keys.json`. */
  readonly valueArgument: string;
  /** How long a usable value is reused before the secret is read again. @default 60_000 */
  readonly readyTtlMs?: number;
  /** How long a not-ready answer is reused, so a fix lands quickly without hammering the API. @default 10_000 */
  readonly notReadyTtlMs?: number;
  /** Logs `secret.not_ready` (warn) when the state becomes not-ready and `secret.ready` when it recovers. */
  readonly logger?: Logger;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Reads the secret on first use and again after the TTL; concurrent callers share one read. The
 * state is logged only when it changes, so a long wait for an operator is one line, not one per
 * request.
 */
export function secretsManagerSource<T>(options: SecretsManagerSourceOptions<T>): SecretSource<T> {
  const readyTtl = options.readyTtlMs ?? 60_000;
  const notReadyTtl = options.notReadyTtlMs ?? 10_000;
  const now = options.now ?? Date.now;
  const fix = putSecretCommand(options.secretId, options.valueArgument);
  let cached: { state: SecretState<T>; at: number } | undefined;
  let inflight: Promise<SecretState<T>> | undefined;

  const notReady = (problem: SecretProblem, message: string): SecretState<T> => ({ ready: false, problem, message, fix });

  const read = async (): Promise<SecretState<T>> => {
    let text: string | undefined;
    try {
      text = (await options.client.send(new GetSecretValueCommand({ SecretId: options.secretId }))).SecretString;
    } catch (err) {
      return notReady('unreadable', `Secret ${options.secretId} (${options.label}) could not be read: ${errorMessage(err)}`);
    }
    if (text === undefined || text.trim() === '' || text.trimStart().startsWith(UNSET_SECRET_MARKER)) {
      return notReady('unset', `Secret ${options.secretId} (${options.label}) is not set yet`);
    }
    try {
      return { ready: true, value: options.parse(text, `secret ${options.secretId}`) };
    } catch (err) {
      const reason = err instanceof ConfigError ? err.message : 'it could not be parsed';
      return notReady('invalid', `Secret ${options.secretId} (${options.label}) is not usable: ${reason}`);
    }
  };

  const report = (previous: SecretState<T> | undefined, next: SecretState<T>): void => {
    if (options.logger === undefined) return;
    if (!next.ready && (previous === undefined || previous.ready || previous.message !== next.message)) {
      options.logger.warn('secret.not_ready', { secretId: options.secretId, problem: next.problem, message: next.message, fix: next.fix });
    } else if (next.ready && previous !== undefined && !previous.ready) {
      options.logger.info('secret.ready', { secretId: options.secretId });
    }
  };

  return {
    state: () => {
      if (cached !== undefined && now() - cached.at < (cached.state.ready ? readyTtl : notReadyTtl)) return Promise.resolve(cached.state);
      inflight ??= read()
        .then((state) => {
          report(cached?.state, state);
          cached = { state, at: now() };
          return state;
        })
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
  };
}

/** Where a service finds a JSON secret: the value itself (local runs) or a Secrets Manager secret (AWS). */
export interface ConfiguredSecretOptions {
  /** Secrets Manager secret holding the JSON (AWS). */
  readonly secretArn?: string;
  /** The JSON itself (local runs). Wins over `secretArn`. */
  readonly json?: string;
  /** Required with `secretArn`. */
  readonly secrets?: Pick<SecretsManagerClient, 'send'>;
  /** Where `secret.not_ready` / `secret.ready` are logged. */
  readonly logger?: Logger;
  /** Clock of the re-read cache. @default Date.now */
  readonly now?: () => number;
}

/**
 * The secret as configured: local JSON parsed once (a bad value fails the start, named after
 * `envName`), else Secrets Manager re-read with secretsManagerSource's cache, else undefined
 * (nothing configured; the caller decides whether that is an error).
 */
export function configuredSecretSource<T>(
  options: ConfiguredSecretOptions,
  spec: Pick<SecretsManagerSourceOptions<T>, 'label' | 'parse' | 'valueArgument'> & { readonly envName: string },
): SecretSource<T> | undefined {
  if (options.json !== undefined) return staticSecret(spec.parse(options.json, spec.envName));
  if (options.secretArn === undefined || options.secrets === undefined) return undefined;
  return secretsManagerSource({
    client: options.secrets,
    secretId: options.secretArn,
    label: spec.label,
    parse: spec.parse,
    valueArgument: spec.valueArgument,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}
