/**
 * Why the consumer is not polling. Several sources can pause it at once (the kill switch, an open
 * gateway circuit, the provider's rate limit or overload, a rejected API key); it polls again only
 * when none of them holds it.
 */
export type PauseReason = 'kill_switch' | 'circuit_open' | 'provider_weather' | 'provider_auth';

export class PollGate {
  private readonly reasons = new Set<PauseReason>();
  private waiters: (() => void)[] = [];

  constructor(private readonly onChange: (paused: boolean, reason: PauseReason) => void = () => undefined) {}

  get paused(): boolean {
    return this.reasons.size > 0;
  }

  get pausedBy(): PauseReason[] {
    return [...this.reasons];
  }

  pause(reason: PauseReason): void {
    if (this.reasons.has(reason)) return;
    this.reasons.add(reason);
    this.onChange(true, reason);
  }

  resume(reason: PauseReason): void {
    if (!this.reasons.delete(reason)) return;
    this.onChange(false, reason);
    if (this.reasons.size > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when nothing pauses polling, or at once when `signal` aborts. */
  async waitOpen(signal: AbortSignal): Promise<void> {
    if (!this.paused || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      this.waiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Sleep that ends early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
