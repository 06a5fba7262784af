import type { Logger } from '../shared/logger';
import { silentLogger } from '../shared/logger';
import { errorMessage } from '../shared/errors';
import type { BreakerRecord, BreakerStore } from './breaker-store';
import { CircuitOpenError } from './gateway-errors';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  readonly store: BreakerStore;
  /** Errors must persist this long, with no success between them, to open the circuit. */
  readonly windowMs: number;
  /** And number at least this many. */
  readonly minFailures: number;
  /** Stay open this long, then let one probe through. */
  readonly openMs: number;
  /** How stale this replica's copy of the shared state may get. */
  readonly refreshMs: number;
  /** Called when this replica sees the state of a model change. */
  readonly onStateChange?: (model: string, state: CircuitState) => void;
  readonly logger?: Logger;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Proof of entry, handed back with the outcome; a probe's outcome decides the circuit. */
export interface BreakerTicket {
  readonly model: string;
  readonly probe: boolean;
}

interface View {
  record: BreakerRecord;
  readAt: number;
  refreshing?: Promise<void> | undefined;
}

/**
 * A circuit breaker per upstream model, shared by every replica through the gateway table.
 * Closed: requests pass; an error streak longer than the window opens it. Open: requests are
 * refused at once with 503 and `x-should-retry: false`. After `openMs`, half-open: exactly one
 * replica wins a conditional write and sends a probe; its success closes the circuit, its failure
 * opens it again.
 */
export class CircuitBreaker {
  private readonly views = new Map<string, View>();
  private readonly now: () => number;
  private readonly logger: Logger;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
  }

  stateOf(record: BreakerRecord, now = this.now()): CircuitState {
    if (record.openUntil === undefined) return 'closed';
    return now < record.openUntil ? 'open' : 'half_open';
  }

  /** This replica's view of a model's circuit, refreshed from the table when it is stale. */
  async state(model: string): Promise<CircuitState> {
    return this.stateOf((await this.view(model)).record);
  }

  /** Let a request for `model` through, or refuse it with CircuitOpenError. */
  async enter(model: string): Promise<BreakerTicket> {
    const view = await this.view(model);
    const now = this.now();
    const state = this.stateOf(view.record, now);
    if (state === 'closed') return { model, probe: false };
    const openUntil = view.record.openUntil ?? now;
    if (state === 'open') throw new CircuitOpenError(model, openUntil - now);
    if (await this.options.store.claimProbe(model, now, now + this.options.openMs)) {
      this.logger.info('gateway.circuit_probe', { model });
      return { model, probe: true };
    }
    throw new CircuitOpenError(model, Math.max(this.options.refreshMs, (view.record.probeUntil ?? now) - now));
  }

  /** The request never went upstream (rejected by the limiter): give a probe back. */
  async abandon(ticket: BreakerTicket): Promise<void> {
    if (ticket.probe) await this.options.store.releaseProbe(ticket.model);
  }

  async success(ticket: BreakerTicket): Promise<void> {
    const view = this.views.get(ticket.model);
    // Writes only when something is to be cleared: the healthy path costs no round trip.
    if (!ticket.probe && (view === undefined || view.record.streakStart === undefined)) return;
    await this.options.store.reset(ticket.model);
    this.remember(ticket.model, { failures: 0 });
  }

  async failure(ticket: BreakerTicket): Promise<void> {
    const now = this.now();
    const { windowMs, minFailures, openMs } = this.options;
    if (ticket.probe) {
      await this.options.store.open(ticket.model, now + openMs, false);
      this.remember(ticket.model, { ...(await this.options.store.read(ticket.model)) });
      return;
    }
    const record = await this.options.store.recordFailure(ticket.model, now, now - windowMs);
    this.remember(ticket.model, record);
    const persisted = record.streakStart !== undefined && now - record.streakStart >= windowMs;
    if (record.openUntil === undefined && persisted && record.failures >= minFailures) {
      if (await this.options.store.open(ticket.model, now + openMs, true)) {
        this.logger.warn('gateway.circuit_opened', { model: ticket.model, failures: record.failures, streakMs: now - (record.streakStart ?? now) });
      }
      this.remember(ticket.model, await this.options.store.read(ticket.model));
    }
  }

  private remember(model: string, record: BreakerRecord): void {
    const before = this.views.get(model);
    const previous = before === undefined ? 'closed' : this.stateOf(before.record);
    this.views.set(model, { record, readAt: this.now() });
    const next = this.stateOf(record);
    if (next !== previous) this.options.onStateChange?.(model, next);
  }

  private async view(model: string): Promise<View> {
    const existing = this.views.get(model);
    if (existing === undefined) {
      this.remember(model, await this.options.store.read(model));
      return this.views.get(model) as View;
    }
    if (this.now() - existing.readAt >= this.options.refreshMs && existing.refreshing === undefined) {
      // Serve the current copy; refresh in the background so the hot path waits for no read.
      existing.refreshing = this.options.store
        .read(model)
        .then((record) => this.remember(model, record))
        .catch((err: unknown) => {
          existing.refreshing = undefined;
          this.logger.warn('gateway.breaker_refresh_failed', { model, error: errorMessage(err) });
        });
    }
    return existing;
  }
}
