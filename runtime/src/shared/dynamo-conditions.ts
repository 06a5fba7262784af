/**
 * What a DynamoDB error means for a conditional write. One classifier for every store (lease,
 * task rows, checkpoint log, idempotency keys, the gateway's breaker and buckets), so a change in
 * what counts as "the condition failed" happens in one place.
 */

/** A cancelled transaction's per-item reason, as the SDK surfaces it. */
interface CancellationReason {
  readonly Code?: string;
}

function cancellationReasons(err: Error): readonly CancellationReason[] {
  const reasons = (err as { CancellationReasons?: unknown }).CancellationReasons;
  return Array.isArray(reasons) ? (reasons as CancellationReason[]) : [];
}

/** Per item of a cancelled transaction, its reason code (`None`, `ConditionalCheckFailed`, ...); empty for any other error. */
export function cancellationCodes(err: unknown): (string | undefined)[] {
  if (!(err instanceof Error) || err.name !== 'TransactionCanceledException') return [];
  return cancellationReasons(err).map((r) => r.Code);
}

/**
 * True when a write was rejected by its own condition: a `ConditionalCheckFailedException`, or a
 * `TransactionCanceledException` one of whose items says `ConditionalCheckFailed`. A transaction
 * cancelled only for throttling, a conflicting transaction or capacity is NOT a failed condition:
 * nothing was decided against the writer, and the same write may succeed when retried.
 */
export function isConditionalCheckFailed(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ConditionalCheckFailedException') return true;
  if (err.name !== 'TransactionCanceledException') return false;
  return cancellationReasons(err).some((r) => r.Code === 'ConditionalCheckFailed');
}

/** Cancellation reasons that say "not now" rather than "no": the same transaction may succeed later. */
const TRANSIENT_CANCELLATION_CODES: ReadonlySet<string> = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

/**
 * True for a transaction cancelled only for transient reasons (a conflicting transaction in
 * flight, throttling, capacity) and not by any condition: it wrote nothing, so retrying it is
 * safe and may succeed. A `ValidationError` cancellation is neither a fence nor retryable.
 */
export function isRetryableCancellation(err: unknown): err is Error {
  if (!(err instanceof Error) || err.name !== 'TransactionCanceledException' || isConditionalCheckFailed(err)) return false;
  return cancellationReasons(err).some((r) => r.Code !== undefined && TRANSIENT_CANCELLATION_CODES.has(r.Code));
}

/**
 * Run a conditional write; when its condition failed, return `onFailed(err)` instead (the error
 * carries `Item` when the write asked for `ReturnValuesOnConditionCheckFailure`). Any other error
 * is rethrown.
 */
export async function ifConditionFails<T, F>(write: () => Promise<T>, onFailed: (err: Error) => F): Promise<T | F> {
  try {
    return await write();
  } catch (err) {
    if (isConditionalCheckFailed(err)) return onFailed(err as Error);
    throw err;
  }
}

/** Run a conditional write: true when it was applied, false when its condition failed. */
export async function conditionHeld(write: () => Promise<unknown>): Promise<boolean> {
  return ifConditionFails(
    async () => {
      await write();
      return true;
    },
    () => false,
  );
}
