/**
 * How large a task may be, derived once from what stores it: the task row is one DynamoDB item,
 * and DynamoDB refuses items over 400 KB. The intake's body limit, its 413 and the OpenAPI
 * document all read these constants.
 */

/** DynamoDB's item size limit: 400 KB, counting attribute names and values (UTF-8). */
export const DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024;

/**
 * Room kept in the row for what the worker writes when the task ends: the result (the model's
 * final text, bounded by max_tokens: 4096 tokens by default, well under this), error, usage,
 * webhook outcome, timestamps and counters.
 */
export const OUTCOME_RESERVE_BYTES = 64 * 1024;

/** The largest row the intake may write (DynamoDB's limit less the outcome reserve). */
export const MAX_SUBMITTED_ROW_BYTES = DYNAMODB_ITEM_LIMIT_BYTES - OUTCOME_RESERVE_BYTES;

/** The row's fields that the body does not carry: keys, task ID, status, priority, timestamps, key name, TTL. */
const ROW_BOOKKEEPING_BYTES = 2 * 1024;

/**
 * The largest body POST /v1/tasks accepts. The row stores what the body carries once, as text no
 * longer than the body (a structured input as its JSON, re-serialised without whitespace), so any
 * body up to this size fits in its row with the outcome reserve. The one way to grow on the way is
 * a number written in exponent form (`1e20` is stored as `100000000000000000000`); a body whose stored form would
 * not fit is refused with 413 naming both sizes, never a 5xx.
 */
export const MAX_TASK_BODY_BYTES = MAX_SUBMITTED_ROW_BYTES - ROW_BOOKKEEPING_BYTES;

/**
 * Bytes of a DynamoDB number: its significant digits in base-100 pairs aligned on the decimal
 * point (so 1.5 takes two pairs, 01|50, and 123456 three), plus 1 byte; a negative number one byte
 * more; zero 1 byte. Checked against DynamoDB Local in test/runtime/intake/large-input.test.ts.
 */
function numberSize(n: number): number {
  if (n === 0) return 1;
  if (!Number.isFinite(n)) return 2;
  const [mantissa = '0', exponent = '0'] = Math.abs(n).toExponential().split('e');
  const digits = mantissa.replace('.', '').replace(/0+$/, '') || '0';
  // The first digit sits at 10^exponent; on an even power it is the low digit of its pair.
  const lead = ((Number(exponent) % 2) + 2) % 2 === 0 ? 1 : 0;
  return Math.ceil((lead + digits.length) / 2) + 1 + (n < 0 ? 1 : 0);
}

/** Bytes of one value as DynamoDB counts them (without the name it is stored under). */
export function dynamoValueSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') return numberSize(value);
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + dynamoValueSize(v) + 1, 0);
  if (typeof value === 'object') {
    let size = 3;
    for (const [k, v] of Object.entries(value)) if (v !== undefined) size += Buffer.byteLength(k, 'utf8') + dynamoValueSize(v) + 1;
    return size;
  }
  return Buffer.byteLength(String(value), 'utf8');
}

/**
 * Size of an item as DynamoDB counts it against its 400 KB limit (names plus values; lists and maps
 * cost 3 bytes plus 1 per element), from the documented rules. Slightly above the real figure for
 * some numbers, never below it.
 */
export function dynamoItemSize(item: Readonly<Record<string, unknown>>): number {
  let size = 0;
  for (const [k, v] of Object.entries(item)) if (v !== undefined) size += Buffer.byteLength(k, 'utf8') + dynamoValueSize(v);
  return size;
}
