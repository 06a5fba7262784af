/** A counter's raw sums, to carry across a process boundary and add into another counter. */
export interface CallTotals {
  readonly counts: Readonly<Record<string, number>>;
  readonly ms: Readonly<Record<string, number>>;
  readonly busyMs: number;
}

/** Round-trips per SDK command, counted by a middleware on the client itself. */
export class CallCounter {
  private readonly counts = new Map<string, number>();
  private readonly ms = new Map<string, number>();
  private busyMs = 0;

  /**
   * Count every command `client` sends from now on. Registered at the initialize step, so a call
   * counts once however many times the SDK retries it (retries are the transport's business, the
   * design's round-trips are what this measures). `onCall` hears each key as its call is sent.
   */
  attach(client: { middlewareStack: { add: (...args: never[]) => void } }, prefix: string, onCall?: (key: string) => void): void {
    const add = client.middlewareStack.add as unknown as (
      mw: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ) => void;
    add.call(
      client.middlewareStack,
      (next, context) => async (args) => {
        const key = `${prefix}:${context.commandName ?? 'unknown'}`;
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
        onCall?.(key);
        const started = performance.now();
        try {
          return await next(args);
        } finally {
          const took = performance.now() - started;
          this.busyMs += took;
          this.ms.set(key, (this.ms.get(key) ?? 0) + took);
        }
      },
      { step: 'initialize', name: `benchCallCounter-${prefix}` },
    );
  }

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Summed wall time of all counted calls (ms); concurrent calls add up. */
  totalMs(): number {
    return this.busyMs;
  }

  total(): number {
    let sum = 0;
    for (const v of this.counts.values()) sum += v;
    return sum;
  }

  /** Mean wall time per call of each command (ms), rounded to 0.1 ms. */
  meanMs(): Record<string, number> {
    return Object.fromEntries([...this.ms.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, Math.round((v / (this.counts.get(k) ?? 1)) * 10) / 10]));
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** The raw sums (counts and summed wall time per command). */
  totals(): CallTotals {
    return { counts: Object.fromEntries(this.counts), ms: Object.fromEntries(this.ms), busyMs: this.busyMs };
  }

  /** Add another counter's totals (a worker process's) into this one. */
  add(totals: CallTotals): void {
    for (const [k, v] of Object.entries(totals.counts)) this.counts.set(k, (this.counts.get(k) ?? 0) + v);
    for (const [k, v] of Object.entries(totals.ms)) this.ms.set(k, (this.ms.get(k) ?? 0) + v);
    this.busyMs += totals.busyMs;
  }

  reset(): void {
    this.counts.clear();
    this.ms.clear();
    this.busyMs = 0;
  }
}
