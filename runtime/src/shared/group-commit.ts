/**
 * Group commit: callers each submit one item and await their own outcome, while the items that
 * arrive during a write go out together in the next one. A write leaves at once whenever a slot is
 * free, so a lone caller pays no wait and no batching delay; under load each write carries many
 * items and the store sees a few large requests instead of one per caller (the same trade as a
 * database's group commit or a producer's batch, without a linger timer).
 */

import { context, isSpanContextValid, trace, type Context, type Link, type Tracer } from '@opentelemetry/api';
import { OpenClawError } from './errors';
import { OPENCLAW, inSpan } from './spans';

/** One item's outcome from a batch write. */
export type ItemOutcome<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

export interface GroupCommitOptions<I, R> {
  /** Most items in one write (the store's batch limit). */
  readonly maxItems: number;
  /**
   * Most bytes in one write, summed over the items' `sizeBytes`; an item larger than this alone
   * still goes, on its own.
   * @default no limit
   */
  readonly maxBytes?: number;
  /** Writes in flight at once; items that arrive meanwhile wait for a free slot and go out together. */
  readonly maxInFlight: number;
  /**
   * Writes one batch and answers each item's outcome, in order. A throw fails every item of the
   * batch with that error. `signal` aborts when the earliest deadline among the items passes.
   */
  readonly write: (items: readonly I[], signal: AbortSignal | undefined) => Promise<readonly ItemOutcome<R>[]>;
  /**
   * Trace each write of two or more items as a span of this name: a child of the first item's
   * request, linked to every item's, so each request's trace leads to the write that carried it.
   * A write of one item, and every write without this option, runs in its first item's context
   * (its SDK spans land there, as without batching).
   * @default no span of its own
   */
  readonly span?: { readonly tracer: Tracer; readonly name: string };
}

/** How one item is submitted. */
export interface SubmitOptions {
  /** Counted against `maxBytes`. @default 0 */
  readonly sizeBytes?: number;
  /** The item's deadline: aborting it rejects the item while it waits, and aborts the write that carries it. */
  readonly signal?: AbortSignal;
}

/** The write answered a different number of outcomes than it was given items: a bug in `write`. */
export class GroupCommitOutcomeError extends OpenClawError {
  constructor(items: number, outcomes: number) {
    super('group_commit_outcomes', `A group-commit write answered ${outcomes} outcomes for ${items} items`, { items, outcomes });
  }
}

interface Waiting<I, R> {
  readonly item: I;
  readonly sizeBytes: number;
  readonly signal: AbortSignal | undefined;
  /** The submitter's trace context. */
  readonly context: Context;
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
}

/** Batches concurrent submissions into few writes; see the file comment. */
export class GroupCommit<I, R> {
  private readonly waiting: Waiting<I, R>[] = [];
  private inFlight = 0;

  constructor(private readonly options: GroupCommitOptions<I, R>) {
    if (!Number.isInteger(options.maxItems) || options.maxItems < 1) throw new RangeError(`maxItems must be a whole number ≥ 1 (got ${options.maxItems})`);
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) throw new RangeError(`maxInFlight must be a whole number ≥ 1 (got ${options.maxInFlight})`);
  }

  /** Items waiting for a slot (not counting those in a write). */
  get queued(): number {
    return this.waiting.length;
  }

  submit(item: I, options: SubmitOptions = {}): Promise<R> {
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    return new Promise<R>((resolve, reject) => {
      const entry: Waiting<I, R> = { item, sizeBytes: options.sizeBytes ?? 0, signal, context: context.active(), resolve, reject, settled: false };
      if (signal !== undefined) {
        // A deadline that passes while the item waits frees its caller now, not when a slot frees.
        const onAbort = (): void => {
          const at = this.waiting.indexOf(entry);
          if (at < 0) return; // already in a write: that write's signal carries the abort
          this.waiting.splice(at, 1);
          settle(entry, { ok: false, error: signal.reason });
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      this.waiting.push(entry);
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch = this.take();
      this.inFlight += 1;
      void this.run(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  /** The oldest waiting items, up to the item and byte limits (always at least one). */
  private take(): Waiting<I, R>[] {
    const maxBytes = this.options.maxBytes ?? Number.POSITIVE_INFINITY;
    let count = 0;
    let bytes = 0;
    for (const entry of this.waiting) {
      if (count >= this.options.maxItems || (count > 0 && bytes + entry.sizeBytes > maxBytes)) break;
      count += 1;
      bytes += entry.sizeBytes;
    }
    return this.waiting.splice(0, count);
  }

  private async run(batch: readonly Waiting<I, R>[]): Promise<void> {
    const signals = batch.map((e) => e.signal).filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    let outcomes: readonly ItemOutcome<R>[];
    const items = batch.map((e) => e.item);
    const first = (batch[0] as Waiting<I, R>).context;
    const span = this.options.span;
    try {
      outcomes = await (span === undefined || batch.length === 1
        ? context.with(first, () => this.options.write(items, signal))
        : inSpan(span.tracer, span.name, { parent: first, links: links(batch), attributes: { [OPENCLAW.batchSize]: batch.length } }, () => this.options.write(items, signal)));
      if (outcomes.length !== batch.length) throw new GroupCommitOutcomeError(batch.length, outcomes.length);
    } catch (error) {
      for (const entry of batch) settle(entry, { ok: false, error });
      return;
    }
    batch.forEach((entry, i) => settle(entry, outcomes[i] as ItemOutcome<R>));
  }
}

/** A link to each item's span (its request), where it had one. */
function links(batch: readonly { readonly context: Context }[]): Link[] {
  return batch.flatMap((e) => {
    const spanContext = trace.getSpanContext(e.context);
    return spanContext !== undefined && isSpanContextValid(spanContext) ? [{ context: spanContext }] : [];
  });
}

function settle<I, R>(entry: Waiting<I, R>, outcome: ItemOutcome<R>): void {
  if (entry.settled) return;
  entry.settled = true;
  if (outcome.ok) entry.resolve(outcome.value);
  else entry.reject(outcome.error);
}

/** The outcome of one promise, for a write that answers items one by one. */
export async function outcomeOf<R>(work: Promise<R>): Promise<ItemOutcome<R>> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    return { ok: false, error };
  }
}
