/**
 * Checkpoint writes that go out beside the work that follows them, in order.
 *
 * A checkpoint whose next action has no side effect (the model call after a tool result, a
 * read-only tool after a model reply) need not be durable before that action starts: if the
 * worker dies first, the next owner replays up to the last durable step and repeats that model
 * call or read-only tool, which costs money but changes nothing outside. So the agent loop
 * enqueues such writes here and carries on. The rules that keep this safe:
 *
 * - Writes are chained: each starts only after the previous one is durable, so the log never
 *   has a hole (step N+1 stored while step N was lost).
 * - `flush()` is the barrier: the loop awaits it before anything with a side effect (an intent,
 *   a side-effecting tool, its reconcile) and before it returns an outcome, so the result and
 *   the release are written after every step, and a side effect never starts before the
 *   checkpoint that led to it is durable.
 * - The first failed write (lease lost, fence, cancel flag, exhausted store retries) aborts
 *   `signal`, which the in-flight model call and tools honour, and is what the loop throws: a
 *   worker whose background write was fenced stops at once instead of finishing a call whose
 *   result it could never record. Later writes in the chain are not sent.
 * - `settle()` waits for whatever is in flight without throwing, so the caller can release the
 *   lease or hand the task back only after no write of this run can still land.
 */
export class CheckpointPipeline {
  private readonly controller = new AbortController();
  private chain: Promise<void> = Promise.resolve();
  private failed: { readonly error: unknown } | undefined;
  private pending = 0;
  /** Aborts when the outer signal does or a background write fails (reason: that write's error). */
  readonly signal: AbortSignal;

  constructor(outer: AbortSignal) {
    this.signal = AbortSignal.any([outer, this.controller.signal]);
  }

  /** The first background write's error, if one failed. */
  get failure(): unknown {
    return this.failed?.error;
  }

  /** Writes enqueued and not yet settled. */
  get inFlight(): number {
    return this.pending;
  }

  /** Send `write` once every earlier write is durable; do not wait for it. */
  enqueue(write: () => Promise<void>): void {
    this.pending += 1;
    this.chain = this.chain.then(async () => {
      try {
        if (this.failed === undefined) await write();
      } catch (err) {
        this.failed = { error: err };
        this.controller.abort(err);
      } finally {
        this.pending -= 1;
      }
    });
  }

  /** Resolves when every enqueued write is durable; throws the first write's failure. */
  async flush(): Promise<void> {
    await this.chain;
    if (this.failed !== undefined) throw this.failed.error;
  }

  /** Resolves when no enqueued write is in flight any more, whether they succeeded or not. */
  async settle(): Promise<void> {
    await this.chain;
  }
}
