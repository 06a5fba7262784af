import pino, { type DestinationStream } from 'pino';
import type { LogLevel } from './config';
import { activeTraceIds } from './spans';

/** What a redacted secret is replaced with. */
export const REDACTED = '[redacted]';

/**
 * Field names that hold secrets. pino redacts them by path at the top level and two levels down
 * (`headers.authorization`, `nested[0].apiKey`): every secret the runtime handles arrives in one of
 * these shapes, and a path list keeps redaction by construction at pino's speed.
 */
export const SECRET_FIELDS: readonly string[] = [
  'authorization',
  'Authorization',
  'apiKey',
  'api_key',
  'apikey',
  'x-api-key',
  'anthropicApiKey',
  'upstreamKey',
  'secret',
  'clientSecret',
  'webhookSecret',
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'sessionToken',
  'signature',
  'x-openclaw-signature',
  'cookie',
  'set-cookie',
];

/**
 * Paths that carry what a user wrote or a tool returned (the decision log's excerpts). Task data
 * lives for the stage's task retention (90 days in prod) while log groups keep a year, so by default
 * these are replaced by their length: the logs never outlive the content's retention.
 */
export const USER_CONTENT_PATHS: readonly string[] = ['why', 'shown.lastMessage'];

/**
 * Secret-shaped values anywhere in a string: Anthropic keys, bearer tokens, intake keys (`ocl_`),
 * AWS access key IDs, and `key=value` / `key: value` pairs whose key names a secret (as in an
 * error message that quotes a header or a connection string). Paths cannot see inside a string.
 */
const SECRET_VALUE =
  /(sk-ant-[A-Za-z0-9_-]+|Bearer\s+[A-Za-z0-9._~+/=-]+|ocl_[A-Za-z0-9_-]{8,}|(?:AKIA|ASIA)[0-9A-Z]{16}|(?<![A-Za-z0-9])(?:x-api-key|api[-_]?key|secret(?:[-_]?access[-_]?key)?|password|authorization)["']?\s*[:=]\s*["']?(?:(?:Bearer|Basic)\s+)?[^\s"',;&]+)/gi;

export type LogFields = Readonly<Record<string, unknown>>;

/** A JSON-lines logger; every line carries the bound context (service, workerId, taskId, step). */
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** @default 'info' */
  readonly level?: LogLevel;
  /** Where lines go. @default process.stdout (synchronous, so nothing is lost on exit) */
  readonly write?: (line: string) => void;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * Whether user content (prompt and tool-output excerpts, {@link USER_CONTENT_PATHS}) is written.
   * Only for development systems whose logs die with their data; deployed services keep the default.
   * @default 'redact'
   */
  readonly userContent?: 'redact' | 'keep';
}

/** Replace secret-shaped substrings in every string of a value (keys are pino's job, by path). */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth]';
  if (typeof value === 'string') return value.replace(SECRET_VALUE, REDACTED);
  if (value instanceof Error) return { name: value.name, message: scrubSecrets(value.message, depth + 1) };
  if (Array.isArray(value)) return value.map((v) => scrubSecrets(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrubSecrets(v, depth + 1);
    return out;
  }
  return value;
}

/** `a`, `*.a`, `*.*.a` with bracket notation for names that are not identifiers. */
function atDepths(field: string): string[] {
  const key = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
  const dot = key.startsWith('[') ? '' : '.';
  return [key, `*${dot}${key}`, `*.*${dot}${key}`];
}

function redactPaths(userContent: 'redact' | 'keep'): string[] {
  const secrets = SECRET_FIELDS.flatMap(atDepths);
  return userContent === 'redact' ? [...secrets, ...USER_CONTENT_PATHS] : secrets;
}

const CONTENT_PATHS = new Set(USER_CONTENT_PATHS);

function censor(value: unknown, path: readonly (string | symbol)[]): string {
  const dotted = path.filter((p): p is string => typeof p === 'string').join('.');
  if (CONTENT_PATHS.has(dotted)) return `[user content redacted: ${typeof value === 'string' ? value.length : 0} chars]`;
  return REDACTED;
}

/** The event name is the line's identity: a bound or passed `event` field must not shadow it. */
function withoutEvent(fields: LogFields | undefined): Record<string, unknown> {
  if (fields === undefined) return {};
  const { event: shadow, ...rest } = fields;
  return shadow === undefined ? rest : { ...rest, context: shadow };
}

function wrap(instance: pino.Logger): Logger {
  const emit = (level: LogLevel) => (event: string, fields?: LogFields) => instance[level](withoutEvent(fields), event);
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (fields) => wrap(instance.child(scrubSecrets(withoutEvent(fields)) as Record<string, unknown>)),
  };
}

/**
 * pino with the project's line shape: `{ ts, level, event, ...context, traceId, spanId, ...fields }`.
 * Secret fields are redacted by pino's paths, secret-shaped strings are scrubbed before
 * serialisation, and user content is redacted unless the caller keeps it.
 */
export function createLogger(base: LogFields = {}, options: LoggerOptions = {}): Logger {
  const now = options.now ?? Date.now;
  const write = options.write;
  const destination: DestinationStream = write === undefined ? pino.destination({ dest: 1, sync: true }) : { write: (line: string) => write(line) };
  const instance = pino(
    {
      level: options.level ?? 'info',
      base: null,
      messageKey: 'event',
      timestamp: () => `,"ts":"${new Date(now()).toISOString()}"`,
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) => scrubSecrets(fields) as Record<string, unknown>,
      },
      // Trace and span IDs tie a line to its span: from a task's trace to its logs and back.
      mixin: () => ({ ...activeTraceIds() }),
      redact: { paths: redactPaths(options.userContent ?? 'redact'), censor },
    },
    destination,
  );
  return wrap(Object.keys(base).length === 0 ? instance : instance.child(scrubSecrets(withoutEvent(base)) as Record<string, unknown>));
}

const drop = (): void => undefined;
/** A logger that drops everything without serialising; for tests and benches that do not read logs. */
export const silentLogger: Logger = { debug: drop, info: drop, warn: drop, error: drop, child: () => silentLogger };
