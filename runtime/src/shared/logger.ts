import type { LogLevel } from './config';
import { activeTraceIds } from './spans';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Keys whose values are replaced before a line is written: redaction by construction, not by care. */
const SECRET_KEY = /(authorization|api[-_]?key|secret|password|token(?!s)|x-api-key|signature)/i;
/**
 * Secret-shaped values anywhere in a string: Anthropic keys, bearer tokens, intake keys (`ocl_`),
 * AWS access key IDs, and `key=value` / `key: value` pairs whose key names a secret (as in an
 * error message that quotes a header or a connection string).
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
  /** Where lines go. @default process.stdout.write */
  readonly write?: (line: string) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth]';
  if (typeof value === 'string') return value.replace(SECRET_VALUE, '[redacted]');
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message, depth + 1) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}

export function createLogger(base: LogFields = {}, options: LoggerOptions = {}): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? Date.now;
  const emit = (level: LogLevel, event: string, fields: LogFields | undefined) => {
    if (LEVELS[level] < threshold) return;
    // Trace and span IDs tie a line to its span: from a task's trace to its logs and back.
    const record = redact({ ts: new Date(now()).toISOString(), level, event, ...base, ...activeTraceIds(), ...fields });
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (fields) => createLogger({ ...base, ...fields }, options),
  };
}

/** A logger that drops everything; for tests that do not assert on logs. */
export const silentLogger: Logger = createLogger({}, { write: () => undefined });
