/**
 * Base error for every openclaw-deploy runtime failure. Subclasses carry the context an operator
 * needs (task ID, queue URL, status, request ID) so a log line alone explains what went wrong.
 */
export class OpenClawError extends Error {
  /** Stable machine-readable type, used as `error.type` in HTTP bodies. */
  readonly type: string;
  /** Structured context; never contains secrets. */
  readonly context: Readonly<Record<string, unknown>>;

  constructor(type: string, message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.type = type;
    this.context = context;
  }
}

/** Configuration from the environment (or CDK context) is missing or malformed. */
export class ConfigError extends OpenClawError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('config_error', message, context);
  }
}

/** An HTTP-facing error with a status code and the stable body `{ error: { type, message } }`. */
export class HttpError extends OpenClawError {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    type: string,
    message: string,
    context: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(type, message, context);
    this.status = status;
    this.headers = headers;
  }

  toBody(): { error: { type: string; message: string } } {
    return { error: { type: this.type, message: this.message } };
  }
}

/** A conditional write lost: another owner holds the lease or the slot is taken. */
export class FencedError extends OpenClawError {
  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('fenced', message, context, options);
  }
}

/** Narrow an unknown thrown value to a message without leaking non-Error payloads. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}

// The DynamoDB condition helpers live in dynamo-conditions.ts; re-exported for existing importers.
export { conditionHeld, isConditionalCheckFailed } from './dynamo-conditions';
