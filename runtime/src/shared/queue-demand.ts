/**
 * The demand signal the worker fleet scales on: the lanes' backlog and in-flight counts read
 * directly, and the tasks that arrived since the previous reading. Kept pure so the publisher
 * (queue-demand-publisher.ts) and the fleet simulation (bench/sim) produce the same datum.
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
export interface QueueDemand extends QueueReading {
  /** Tasks this process put on the lanes since its previous datum. */
  readonly arrivals: number;
}

/**
 * Counts tasks put on the lanes; `take` hands over the count since the last take. Arrivals are
 * counted where they are sent, not derived from queue depth: depth changes also with completions,
 * which lag behind when many workers have just started, and would read as more arrivals.
 */
export class ArrivalCounter {
  private count = 0;

  add(tasks: number): void {
    if (tasks > 0) this.count += tasks;
  }

  take(): number {
    const taken = this.count;
    this.count = 0;
    return taken;
  }
}
