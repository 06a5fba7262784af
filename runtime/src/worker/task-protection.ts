import { OpenClawError, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';

export class TaskProtectionError extends OpenClawError {}

export interface TaskProtectionOptions {
  /** `$ECS_AGENT_URI`; unset (locally) makes every call a no-op. */
  readonly agentUri?: string;
  readonly logger: Logger;
  /** Protection lifetime per PUT, 1-2880. @default 60 */
  readonly expiresInMinutes?: number;
  /** Re-PUT period while busy. @default half the lifetime */
  readonly renewEveryMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/**
 * ECS task scale-in protection while the worker has work in hand: scale-in and deployments skip a
 * protected task, so a busy worker is not stopped mid-task. Counted, because a worker with
 * concurrency > 1 is busy until its last task ends. The protection expires by itself
 * (ExpiresInMinutes), so a worker that dies while protected does not block scale-in for ever.
 */
export class TaskProtection {
  private readonly expiresInMinutes: number;
  private readonly renewEveryMs: number;
  private readonly fetch: typeof fetch;
  private busyCount = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Serialises PUTs so "enable" and "disable" reach the agent in the order they were decided. */
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: TaskProtectionOptions) {
    this.expiresInMinutes = options.expiresInMinutes ?? 60;
    if (!Number.isInteger(this.expiresInMinutes) || this.expiresInMinutes < 1 || this.expiresInMinutes > 2880) {
      throw new TaskProtectionError('config_error', `expiresInMinutes=${this.expiresInMinutes} must be an integer from 1 to 2880 (the ECS limit)`);
    }
    this.renewEveryMs = options.renewEveryMs ?? (this.expiresInMinutes * 60_000) / 2;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  get enabled(): boolean {
    return this.options.agentUri !== undefined;
  }

  /** A task started: protect the ECS task (first one only) and keep extending it. */
  async busy(): Promise<void> {
    this.busyCount += 1;
    if (this.busyCount > 1 || !this.enabled) return;
    this.timer = setInterval(() => void this.put(true), this.renewEveryMs);
    this.timer.unref();
    await this.put(true);
  }

  /** A task ended: drop protection when nothing else runs. */
  async idle(): Promise<void> {
    this.busyCount = Math.max(0, this.busyCount - 1);
    if (this.busyCount > 0 || !this.enabled) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.put(false);
  }

  private put(enabled: boolean): Promise<void> {
    const body = enabled ? { ProtectionEnabled: true, ExpiresInMinutes: this.expiresInMinutes } : { ProtectionEnabled: false };
    this.chain = this.chain.then(async () => {
      try {
        const res = await this.fetch(`${this.options.agentUri}/task-protection/v1/state`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(5000),
        });
        if (!res.ok) throw new TaskProtectionError('protection_failed', `ECS agent answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
        this.options.logger.debug('task_protection.set', { enabled });
      } catch (err) {
        // Best effort: without protection a scale-in may stop us, and drain + checkpoints cover that.
        this.options.logger.warn('task_protection.failed', { enabled, error: errorMessage(err) });
      }
    });
    return this.chain;
  }
}
