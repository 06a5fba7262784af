import type { AgentVersion } from '../../runtime/src/shared/agent-version';
import { isAgentVersion } from '../../runtime/src/shared/agent-version';
import type { Logger } from '../../runtime/src/shared/logger';
import type { Dimensions, MetricDatum, Metrics } from '../../runtime/src/shared/metrics';
import { DIMENSIONS, METRICS } from '../../runtime/src/shared/metrics-contract';
import { decideCanary, figuresOf, type CanaryVerdict, type FinishedTask } from '../../lib/canary/rollback-rule';
import type { CanaryThresholds } from '../../lib/config/canary';
import type { MutableCanaryShare } from '../../runtime/src/intake/canary-share';

/**
 * The local stand-in for the canary alarm: it reads the workers' own per-task metrics (the records
 * CloudWatch would aggregate), keeps a window of them, and every interval runs the same decision
 * as the alarm (lib/canary/rollback-rule.ts). On a rollback it sets the in-process share to 0,
 * as the Lambda sets the SSM parameter, and logs the page.
 */
export class LocalCanaryEvaluator {
  private readonly finished: Array<FinishedTask & { readonly at: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  /** The last verdict, for the banner and tests. */
  last: CanaryVerdict | undefined;

  constructor(
    private readonly options: {
      readonly share: MutableCanaryShare;
      readonly thresholds: CanaryThresholds;
      readonly logger: Logger;
      /** @default 10_000 */
      readonly intervalMs?: number;
      /** @default Date.now */
      readonly now?: () => number;
    },
  ) {}

  /** A metrics port that records finished tasks on their way to `inner`. */
  tap(inner: Metrics): Metrics {
    const record = (data: readonly MetricDatum[], dims: Dimensions): void => {
      const ok = data.find((d) => d.name === METRICS.tasksSucceeded);
      const version = dims[DIMENSIONS.agentVersion];
      if (ok === undefined || !isAgentVersion(version)) return;
      const value = (name: string) => data.find((d) => d.name === name)?.value;
      const cost = value(METRICS.costPerTaskUsd);
      const tools = value(METRICS.toolCallsPerTask);
      const duration = value(METRICS.taskDurationMs);
      this.finished.push({
        at: (this.options.now ?? Date.now)(),
        version: version as AgentVersion,
        succeeded: ok.value === 1,
        ...(cost === undefined ? {} : { costUsd: cost }),
        ...(tools === undefined ? {} : { toolCalls: tools }),
        ...(duration === undefined ? {} : { durationMs: duration }),
      });
    };
    const wrap = (m: Metrics, bound: Dimensions): Metrics => ({
      emit: (data, dims = {}, props) => {
        record(data, { ...bound, ...dims });
        m.emit(data, dims, props);
      },
      with: (dims) => wrap(m.with(dims), { ...bound, ...dims }),
      flush: () => m.flush(),
    });
    return wrap(inner, {});
  }

  /** Decide on the current window now. */
  async evaluate(): Promise<CanaryVerdict> {
    const now = (this.options.now ?? Date.now)();
    const since = now - this.options.thresholds.windowMinutes * 60_000;
    const window = this.finished.filter((t) => t.at >= since);
    const verdict = decideCanary(figuresOf(window), this.options.thresholds);
    this.last = verdict;
    const share = await this.options.share.current();
    if (verdict.decision === 'rollback' && share > 0) {
      this.options.share.set(0);
      this.options.logger.error('canary.rolled_back', { regressions: verdict.regressions, figures: figuresOf(window), page: true });
    }
    return verdict;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.evaluate(), this.options.intervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
