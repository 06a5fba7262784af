import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { parseCanaryShare } from '../shared/agent-version';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';

/** Where the intake learns the candidate's share of new tasks (percent, 0 to 100). */
export interface CanaryShareSource {
  current(): Promise<number>;
}

/** A share that never changes: local runs and tests. */
export function fixedCanaryShare(percent: number): CanaryShareSource {
  return { current: async () => percent };
}

/** A share set in process: the local system's evaluator rolls back by setting 0. */
export class MutableCanaryShare implements CanaryShareSource {
  constructor(private percent: number) {}

  async current(): Promise<number> {
    return this.percent;
  }

  set(percent: number): void {
    this.percent = percent;
  }
}

export interface SsmCanaryShareOptions {
  /** Injected so tests and local runs need no AWS. */
  readonly ssm: Pick<SSMClient, 'send'>;
  /** The SSM parameter name (env CANARY_SHARE_PARAM). */
  readonly parameterName: string;
  readonly logger: Logger;
  /**
   * How long a read value is reused. Short, because setting 0 (by hand or by the rollback) must
   * stop new candidate tasks within seconds; long enough that SSM sees one read per replica per
   * interval, not one per request.
   * @default 15_000
   */
  readonly cacheMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * The share from an SSM parameter, changed at run time without a deploy (the canary CLI, the
 * rollback Lambda). Follows the worker's kill switch: a read error keeps the last known value, so an
 * SSM outage changes nothing; before the first successful read, and for a missing parameter, the
 * share is 0 (every task to the stable version). A malformed value is logged and ignored.
 */
export class SsmCanaryShare implements CanaryShareSource {
  private readonly cacheMs: number;
  private readonly now: () => number;
  private value = 0;
  private readAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<number> | undefined;

  constructor(private readonly options: SsmCanaryShareOptions) {
    this.cacheMs = options.cacheMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  async current(): Promise<number> {
    if (this.now() - this.readAt < this.cacheMs) return this.value;
    // One read at a time: a burst of submissions after the cache expires shares it.
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async refresh(): Promise<number> {
    const name = this.options.parameterName;
    try {
      const out = await this.options.ssm.send(new GetParameterCommand({ Name: name }));
      const parsed = parseCanaryShare(out.Parameter?.Value);
      if (parsed === undefined) {
        this.options.logger.warn('canary.share_invalid', { parameter: name, value: String(out.Parameter?.Value).slice(0, 40), kept: this.value });
      } else {
        if (parsed !== this.value) this.options.logger.info('canary.share_changed', { parameter: name, from: this.value, to: parsed });
        this.value = parsed;
      }
    } catch (err) {
      if (err instanceof Error && err.name === 'ParameterNotFound') {
        this.value = 0;
      } else {
        this.options.logger.warn('canary.share_read_failed', { parameter: name, error: errorMessage(err), kept: this.value });
      }
    }
    // Also after a failure: retry after the interval rather than on every request.
    this.readAt = this.now();
    return this.value;
  }
}
