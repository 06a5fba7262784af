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
 * Stops polling for a reason that only a probe can clear (the gateway's circuit is open), and
 * probes with backoff until it succeeds or `signal` aborts. One probe loop per reason at a time.
 */
export class CircuitProbe {
  private readonly loops = new Map<PauseReason, Promise<void>>();

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

  /** Settles when every probe loop has ended (after the stop signal aborted them). */
  async settled(): Promise<void> {
    await Promise.all([...this.loops.values()]);
  }
}
