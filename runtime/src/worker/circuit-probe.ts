import type { PauseReason, PollGate } from './poll-gate';
import { sleep } from './poll-gate';

export interface CircuitProbeOptions {
  readonly gate: PollGate;
  /** True when calls get through again. @default undefined (resume after the first backoff) */
  readonly probe?: (signal: AbortSignal) => Promise<boolean>;
  /** First wait before probing; doubles up to `maxBackoffMs`. */
  readonly backoffMs: number;
  /** @default 30_000 */
  readonly maxBackoffMs?: number;
}

/**
 * Stops polling while the model cannot be reached: for a reason only a probe can clear (the
 * gateway's circuit is open, the provider rejects the key), probing with backoff until it
 * succeeds; or for a while (a rate limit's retry-after). One probe loop per reason at a time.
 */
export class CircuitProbe {
  private readonly loops = new Map<PauseReason, Promise<void>>();
  private readonly timed = new Map<PauseReason, { until: number; timer: NodeJS.Timeout }>();

  constructor(private readonly o: CircuitProbeOptions) {}

  /** Pause polling for `reason` until a probe gets through. */
  pauseUntilProbeSucceeds(reason: PauseReason, signal: AbortSignal): void {
    this.o.gate.pause(reason);
    if (this.loops.has(reason)) return;
    const loop = (async () => {
      let delay = this.o.backoffMs;
      while (!signal.aborted) {
        await sleep(delay, signal);
        if (signal.aborted) break;
        const ok = this.o.probe === undefined ? true : await this.o.probe(signal).catch(() => false);
        if (ok) break;
        delay = Math.min(this.o.maxBackoffMs ?? 30_000, delay * 2);
      }
      this.o.gate.resume(reason);
    })().finally(() => this.loops.delete(reason));
    this.loops.set(reason, loop);
  }

  /** Pause polling for `reason` for `ms` (extended, never shortened, by a later call). */
  pauseFor(reason: PauseReason, ms: number): void {
    const until = Date.now() + ms;
    const current = this.timed.get(reason);
    if (current !== undefined && current.until >= until) return;
    if (current !== undefined) clearTimeout(current.timer);
    this.o.gate.pause(reason);
    const timer = setTimeout(() => {
      this.timed.delete(reason);
      this.o.gate.resume(reason);
    }, ms);
    // A pending resume must not keep a stopping process alive.
    timer.unref();
    this.timed.set(reason, { until, timer });
  }

  /** Settles when every probe loop has ended (after the stop signal aborted them); timed pauses are dropped. */
  async settled(): Promise<void> {
    for (const [reason, { timer }] of this.timed) {
      clearTimeout(timer);
      this.o.gate.resume(reason);
    }
    this.timed.clear();
    await Promise.all([...this.loops.values()]);
  }
}
