/**
 * Turns successive readings of the task lanes into the demand signal the worker fleet scales on.
 * Pure: the publisher (queue-demand-publisher.ts) and the fleet simulation (bench/sim) share it, so
 * the simulation scales on exactly what the deployed publisher would have sent.
 */

/** One reading of the lanes, summed over them. */
export interface QueueReading {
  /** Epoch milliseconds of the reading. */
  readonly atMs: number;
  /** Messages waiting (ApproximateNumberOfMessages). */
  readonly backlog: number;
  /** Messages a worker holds (ApproximateNumberOfMessagesNotVisible). */
  readonly inFlight: number;
}

/** What is published for one reading. */
export interface QueueDemand {
  readonly atMs: number;
  readonly backlog: number;
  readonly inFlight: number;
  /**
   * (backlog + in flight) change per second since the previous reading; absent on the first
   * reading, or when the previous one is too old to say anything about now.
   */
  readonly growthPerSecond?: number;
}

/**
 * Keeps the previous reading. A reading older than `maxGapMs` (a stalled publisher, a replica that
 * slept) is not used for a rate: a growth averaged over minutes would hide the spike it should show.
 */
export class QueueDemandTracker {
  private previous: QueueReading | undefined;

  constructor(private readonly maxGapMs: number) {}

  observe(reading: QueueReading): QueueDemand {
    const prev = this.previous;
    this.previous = reading;
    const base = { atMs: reading.atMs, backlog: reading.backlog, inFlight: reading.inFlight };
    if (prev === undefined) return base;
    const gapMs = reading.atMs - prev.atMs;
    if (gapMs <= 0 || gapMs > this.maxGapMs) return base;
    const growth = (reading.backlog + reading.inFlight - (prev.backlog + prev.inFlight)) / (gapMs / 1000);
    return { ...base, growthPerSecond: growth };
  }
}
