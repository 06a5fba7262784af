import { routeTask, type AgentVersion } from '../shared/agent-version';
import type { QueueUrls } from '../shared/config';
import type { Priority } from '../shared/task-model';
import type { CanaryShareSource } from './canary-share';

export interface CanaryRouterOptions {
  /** The stable pool's lanes. */
  readonly stable: QueueUrls;
  /** The candidate pool's lanes and its share; unset: no canary, every task is stable. */
  readonly candidate?: { readonly queues: QueueUrls; readonly share: CanaryShareSource };
}

/**
 * Decides which agent version runs a new task and where its message goes. Each version has its
 * own lanes (SQS cannot filter a queue by attribute), so only that version's workers take it; a
 * share of 0 sends nothing new to the candidate while its lanes drain.
 */
export class CanaryRouter {
  constructor(private readonly options: CanaryRouterOptions) {}

  /** The version for a new task: deterministic from its ID at the current share. */
  async route(taskId: string): Promise<AgentVersion> {
    const candidate = this.options.candidate;
    if (candidate === undefined) return 'stable';
    return routeTask(taskId, await candidate.share.current());
  }

  /**
   * The lane of a version. A row routed to the candidate by an earlier attempt goes to the
   * candidate's lanes even if the share has dropped since, so a retry agrees with the first try;
   * without a candidate pool (the canary was removed) it falls back to the stable lanes.
   */
  queueUrl(version: AgentVersion | undefined, priority: Priority): string {
    const queues = version === 'candidate' && this.options.candidate !== undefined ? this.options.candidate.queues : this.options.stable;
    return priority === 'high' ? queues.high : queues.normal;
  }
}
