import type { SQSClient } from '@aws-sdk/client-sqs';
import { unobservedTaskRuns, type TaskRunObserver } from './agent-telemetry';
import { isRetryableCancellation } from '../shared/dynamo-conditions';
import { FencedError, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { QueueUrls } from '../shared/config';
import { FIRST_SENT_ATTRIBUTE, TASK_ROW_WAIT_MS, parseTaskMessage, traceCarrierOf } from '../shared/task-message';
import type { TaskMessage, TaskRecord } from '../shared/task-model';
import { taskFromItem, type TaskStore } from '../shared/task-store';
import type { AgentLoop, RunContext } from './agent-loop';
import type { CheckpointLog, RunOutcome, TaskOutcome } from './checkpoint-log';
import { CircuitProbe } from './circuit-probe';
import { dispatchApprovalWebhook, dispatchCompletionWebhook, type TaskNotifier } from './completion-webhook';
import { ConsumerEmitter } from './consumer-events';
import { HandBacks, weatherHandBacks } from './hand-back';
import type { HealthSnapshot, SlotProgress } from './health';
import { Heartbeat } from './heartbeat';
import type { KillSwitch } from './kill-switch';
import type { LeaseHandle, LeaseManager } from './lease';
import { GatewayCircuitOpenError } from './model-client';
import { ProviderWeatherError, weatherDelaySeconds, type WeatherBackoff } from './provider-weather';
import { PollGate, sleep } from './poll-gate';
import { LaneReceiver } from './queue-lanes';
import { QueueMessages, type Received } from './queue-message';
import type { TaskProtection } from './task-protection';
import { CancelRequestedError, ConsumerConfigError, DrainingError } from './worker-errors';
import { replay } from './conversation';

export { ConsumerConfigError } from './worker-errors';
export { backoffSeconds } from './hand-back';

export interface ConsumerOptions {
  readonly sqs: SQSClient;
  readonly queues: QueueUrls;
  readonly store: TaskStore;
  readonly leases: LeaseManager;
  readonly log: CheckpointLog;
  /** Runs one task (the AgentDispatcher picks the task's agent). */
  readonly loop: Pick<AgentLoop, 'run'>;
  readonly logger: Logger;
  readonly workerId: string;
  /** Must match the queue's visibility timeout. @default 300 */
  readonly visibilityTimeoutSeconds?: number;
  /** How often the message visibility and the lease are extended. @default visibility / 3, capped at leaseMs / 4 */
  readonly heartbeatMs?: number;
  /** Long-poll wait on the normal queue. @default 20 */
  readonly waitTimeSeconds?: number;
  /** The DLQ redrive's maxReceiveCount: on the last receive a failing task is marked FAILED. @default 5 */
  readonly maxReceiveCount?: number;
  /** High-priority messages taken in a row before one normal message gets a turn. @default 4 */
  readonly highBurst?: number;
  /** Tasks run at once by this worker. @default 1 */
  readonly concurrency?: number;
  /** Pauses polling while an SSM parameter says so. @default undefined (never paused) */
  readonly killSwitch?: KillSwitch;
  /** ECS scale-in protection while busy. @default undefined (none) */
  readonly protection?: TaskProtection;
  /** Checks whether the gateway's circuit lets calls through again; true resumes polling. @default undefined (resume after the backoff) */
  readonly probe?: (signal: AbortSignal) => Promise<boolean>;
  /** First wait before probing an open circuit; doubles up to 30 s. @default 1000 */
  readonly probeBackoffMs?: number;
  /** Before a hard stop, time kept back to release the lease and hand the message back. @default 3000 */
  readonly releaseMarginMs?: number;
  /**
   * Sends a terminal task's completion webhook (runtime/src/shared/webhooks.ts), awaited before the
   * message is deleted so a crash delays the webhook instead of losing it. @default undefined (none)
   */
  readonly notifier?: TaskNotifier;
  /**
   * Backoff of a task handed back for provider weather (rate limit, overload, 5xx, timeout,
   * rejected key). @default { baseMs: 2000, maxMs: 120_000 }
   */
  readonly weatherBackoff?: WeatherBackoff;
  /**
   * How long after its first send a message whose task has no row yet is handed back instead of
   * dropped (the intake writes the row and sends the message at once). @default TASK_ROW_WAIT_MS (60 s)
   */
  readonly rowWaitMs?: number;
  /** Wraps each run in the task's trace (continued from the message's traceparent) and task metrics. @default none */
  readonly telemetry?: TaskRunObserver;
}

/**
 * The worker's SQS consumer: `concurrency` slots, each taking one task at a time (high queue first,
 * without starving normal), leasing it, running the agent loop under heartbeats, writing the outcome
 * under the lease and deleting the message. `stop()` stops receiving at once, lets running tasks
 * reach their next checkpoint (hard-aborting them just before the timeout), releases their leases
 * and makes their messages visible again.
 */
export class Consumer {
  readonly events = new ConsumerEmitter();
  readonly gate: PollGate;
  private readonly visibility: number;
  private readonly heartbeatMs: number;
  private readonly wait: number;
  private readonly concurrency: number;
  private readonly releaseMarginMs: number;
  private readonly messages: QueueMessages;
  private readonly lanes: LaneReceiver;
  private readonly handBacks: HandBacks;
  private readonly circuit: CircuitProbe;
  private readonly weatherBackoff: WeatherBackoff;
  private stopController = new AbortController();
  /** Fires just before a stop's deadline: running steps are cut short. */
  private hardStop = new AbortController();
  private running: Promise<void> | undefined;
  private inFlight = 0;
  private processed = 0;
  /** What each slot is doing, for the health check: polling (and when it last came round) or running a task. */
  private slots: SlotProgress[] = [];

  constructor(private readonly o: ConsumerOptions) {
    this.visibility = o.visibilityTimeoutSeconds ?? 300;
    this.heartbeatMs = o.heartbeatMs ?? Math.min((this.visibility * 1000) / 3, o.leases.leaseMs / 4);
    this.wait = o.waitTimeSeconds ?? 20;
    this.concurrency = o.concurrency ?? 1;
    this.releaseMarginMs = o.releaseMarginMs ?? 3000;
    this.weatherBackoff = o.weatherBackoff ?? {};
    if (this.heartbeatMs * 2 > this.visibility * 1000) {
      throw new ConsumerConfigError(
        `heartbeatMs=${this.heartbeatMs} must be at most half the visibility timeout (${this.visibility}s) so a message never becomes visible while its task runs; lower heartbeatMs or raise the queue's visibility timeout`,
        { heartbeatMs: this.heartbeatMs, visibilityTimeoutSeconds: this.visibility },
      );
    }
    if (this.heartbeatMs * 2 > o.leases.leaseMs) {
      throw new ConsumerConfigError(`heartbeatMs=${this.heartbeatMs} must be at most half the lease (${o.leases.leaseMs}ms); lower heartbeatMs or raise leaseMs`, {
        heartbeatMs: this.heartbeatMs,
        leaseMs: o.leases.leaseMs,
      });
    }
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1 || this.concurrency > 64) {
      throw new ConsumerConfigError(`concurrency=${this.concurrency} must be an integer from 1 to 64`, { concurrency: this.concurrency });
    }
    if (!Number.isInteger(this.wait) || this.wait < 0 || this.wait > 20) {
      throw new ConsumerConfigError(`waitTimeSeconds=${this.wait} must be an integer from 0 to 20 (the SQS long-poll maximum)`, { waitTimeSeconds: this.wait });
    }
    this.gate = new PollGate((paused, reason) => {
      this.o.logger.info(paused ? 'consumer.paused' : 'consumer.resumed', { reason });
      this.events.emit(paused ? 'paused' : 'resumed', { reason });
    });
    this.messages = new QueueMessages(o.sqs);
    this.lanes = new LaneReceiver({
      sqs: o.sqs,
      queues: o.queues,
      visibilitySeconds: this.visibility,
      waitSeconds: this.wait,
      highBurst: o.highBurst ?? 4,
      onReceived: (r) => this.events.emit('message_received', { messageId: r.message.MessageId ?? '', queueUrl: r.queueUrl, receiveCount: r.receiveCount }),
    });
    this.handBacks = new HandBacks({
      messages: this.messages,
      leases: o.leases,
      log: o.log,
      store: o.store,
      logger: o.logger,
      events: this.events,
      maxReceiveCount: o.maxReceiveCount ?? 5,
      rowWaitMs: o.rowWaitMs ?? TASK_ROW_WAIT_MS,
      notify: (taskId, logger) => this.notify(taskId, logger),
    });
    this.circuit = new CircuitProbe({ gate: this.gate, backoffMs: o.probeBackoffMs ?? 1000, ...(o.probe !== undefined ? { probe: o.probe } : {}) });
  }

  /** Start polling; resolves once the kill switch has been read, so a paused fleet never receives. */
  async start(): Promise<void> {
    if (this.running !== undefined) return;
    this.stopController = new AbortController();
    this.hardStop = new AbortController();
    await this.o.killSwitch?.start(this.gate);
    this.slots = Array.from({ length: this.concurrency }, (): SlotProgress => ({ state: 'idle', tickAt: Date.now() }));
    const slots = this.slots.map((_, i) => this.pollLoop(i));
    this.running = Promise.all(slots).then(() => undefined);
  }

  /**
   * Stop receiving at once; running tasks stop at their next step boundary (or are aborted
   * `releaseMarginMs` before `timeoutMs`), release their leases and hand their messages back.
   * Resolves true when everything drained within `timeoutMs`.
   */
  async stop(timeoutMs = 30_000): Promise<boolean> {
    this.stopController.abort(new Error('consumer stopping'));
    const hard = setTimeout(() => this.hardStop.abort(new Error('drain deadline reached')), Math.max(0, timeoutMs - this.releaseMarginMs));
    const running = this.running;
    let drained = true;
    if (running !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      drained = await Promise.race([running.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
      clearTimeout(timer);
    }
    clearTimeout(hard);
    await this.o.killSwitch?.stop();
    await this.circuit.settled();
    this.running = undefined;
    this.events.emit('stopped', { drained });
    return drained;
  }

  get isRunning(): boolean {
    return this.running !== undefined && !this.stopController.signal.aborted;
  }

  /** How long a lease lives without renewal: a busy slot whose heartbeat is quiet longer has lost it. */
  get leaseMs(): number {
    return this.o.leases.leaseMs;
  }

  /** For the soak: what the consumer is doing. */
  stats(): { inFlight: number; processed: number; pausedBy: string[] } {
    return { inFlight: this.inFlight, processed: this.processed, pausedBy: this.gate.pausedBy };
  }

  /** For the health check: whether the consumer runs, and each slot's latest sign of progress. */
  healthSnapshot(): HealthSnapshot {
    return { running: this.isRunning, slots: [...this.slots] };
  }

  /**
   * One slot: receive, run the task, repeat. A task that ran to an outcome settles (result write,
   * webhook, delete) while the slot already receives and starts its next task, so those round trips
   * are not between two tasks' model calls; only one task per slot executes at a time, settles run
   * one after another in order, at most one is in flight when the slot receives, and the loop
   * returns only when every settle has ended.
   */
  private async pollLoop(slot: number): Promise<void> {
    const signal = this.stopController.signal;
    let settling: Promise<void> = Promise.resolve();
    while (!signal.aborted) {
      this.slots[slot] = { state: 'idle', tickAt: Date.now() };
      try {
        if (this.gate.paused) {
          // Paused is healthy: keep the tick fresh while waiting.
          await Promise.race([this.gate.waitOpen(signal), sleep(10_000, signal)]);
          continue;
        }
        const received = await this.lanes.receive(signal);
        if (received === undefined) continue;
        this.inFlight += 1;
        let ran: Settling | undefined;
        try {
          ran = await this.handle(received, slot, settling);
        } finally {
          if (ran === undefined) this.taskEnded();
        }
        if (ran !== undefined) {
          // At most one settle in flight per slot: a slow one (webhook retries) holds the next receive.
          await settling;
          settling = ran.settled;
        }
      } catch (err) {
        if (signal.aborted) break;
        this.o.logger.error('consumer.error', { error: errorMessage(err) });
        this.events.emit('consumer_error', { error: asError(err) });
        await sleep(1000, signal);
      }
    }
    await settling;
  }

  private taskEnded(): void {
    this.inFlight -= 1;
    this.processed += 1;
  }

  /** Resolves with the task's settle when it ran to an outcome (see pollLoop), undefined when it ended here. */
  private async handle(received: Received, slot: number, previous: Promise<void>): Promise<Settling | undefined> {
    const { message, receiveCount } = received;
    const body = parseTaskMessage(message.Body);
    if (body === undefined) {
      // A malformed message can never succeed: let it reach the DLQ quickly by not deleting it.
      const err = new Error('malformed task message: the body must be JSON with a non-empty string taskId');
      this.o.logger.error('message.malformed', { messageId: message.MessageId, error: err.message });
      this.events.emit('consumer_error', { error: err, ...(message.MessageId !== undefined ? { messageId: message.MessageId } : {}) });
      await this.messages.setVisibility(received, 1).catch(() => undefined);
      return undefined;
    }
    const taskId = body.taskId;
    const logger = this.o.logger.child({ taskId, receiveCount });
    // The lease and the attempt in one transaction: a receive that cannot take the lease counts no attempt.
    // A task's first delivery claims its first lease and reads its partition beside the claim (one
    // round trip, not two): if the LOCK did not exist the fence is 1 and there are no steps to miss.
    const firstDelivery = received.receiveCount === 1 && received.message.MessageAttributes?.[FIRST_SENT_ATTRIBUTE] === undefined;
    const [claim, beside] = await Promise.all([
      this.o.leases.claim(taskId, this.o.workerId, this.o.store.markRunningUpdate(taskId), { firstLease: firstDelivery }),
      firstDelivery ? this.o.log.load(taskId) : undefined,
    ]);
    if (claim.kind === 'leased_elsewhere') {
      // Another worker holds a live lease: this copy comes back when that lease could have lapsed.
      const wait = Math.ceil(Math.max(0, claim.expiresAt - Date.now()) / 1000) + 1;
      logger.info('task.leased_elsewhere', { retryInSeconds: wait });
      await this.handBacks.handBack(received, taskId, 'leased_elsewhere', Math.min(wait, this.visibility));
      return undefined;
    }
    if (claim.kind === 'not_runnable') {
      if (claim.status === undefined && (await this.handBacks.awaitRow(received, taskId, logger))) return undefined;
      // Finished (or unknown) task: a duplicate delivery is acknowledged without work.
      logger.info('task.duplicate_or_missing', { status: claim.status ?? 'missing' });
      this.events.emit('task_duplicate', { taskId });
      // Covers a crash between the terminal write and the webhook, and tasks cancelled while queued.
      await this.notify(taskId, logger);
      await this.messages.delete(received);
      return undefined;
    }
    if (claim.firstFence !== undefined && beside !== undefined) {
      const task = firstRunRow(taskFromItem(beside.row));
      if (task !== undefined) {
        const lease: LeaseHandle = { taskId, owner: this.o.workerId, fence: claim.firstFence, expiresAt: claim.expiresAt };
        return this.runLeased(received, body, task, lease, logger, slot, { steps: [], intents: new Map() }, previous);
      }
    }
    // One consistent read of the partition: the row as just updated, the lock (for the fence), the steps and intents.
    const partition = await this.o.log.load(taskId);
    const acquired = this.o.leases.fromLock(taskId, this.o.workerId, claim, partition.lock);
    const task = taskFromItem(partition.row);
    if (acquired === undefined || task === undefined) {
      // Taken over between the claim and the read (or the row vanished): the new owner settles the message.
      logger.warn('task.fenced', { error: 'lease taken over before the task started' });
      this.events.emit('task_fenced', { taskId, fence: 0, message: 'lease taken over before the task started' });
      return undefined;
    }
    return this.runLeased(received, body, task, acquired, logger, slot, { steps: partition.steps, intents: partition.intents }, previous);
  }

  private async runLeased(
    received: Received,
    body: TaskMessage,
    task: TaskRecord,
    acquired: LeaseHandle,
    logger: Logger,
    slot: number,
    preloaded: NonNullable<RunContext['preloaded']>,
    previous: Promise<void>,
  ): Promise<Settling | undefined> {
    const { taskId } = body;
    const started = Date.now();
    logger.info('task.started', { fence: acquired.fence });
    this.events.emit('task_started', { taskId, fence: acquired.fence, receiveCount: received.receiveCount, resumedFromStep: (task.attempts ?? 1) > 1 });
    await this.o.protection?.busy();

    const taskController = new AbortController();
    const onHardStop = () => taskController.abort(this.hardStop.signal.reason);
    this.hardStop.signal.addEventListener('abort', onHardStop, { once: true });
    const heartbeat = new Heartbeat({
      leases: this.o.leases,
      messages: this.messages,
      received,
      lease: acquired,
      periodMs: this.heartbeatMs,
      visibilitySeconds: this.visibility,
      logger,
      onLost: (_lost, cause) => {
        this.events.emit('heartbeat_failed', { taskId, error: asError(cause) });
        taskController.abort(cause);
      },
      onRenewed: (at) => {
        // Only while this task holds the slot: once it settles, the slot runs the next one.
        const current = this.slots[slot];
        if (current?.state === 'busy' && current.taskId === taskId) this.slots[slot] = { state: 'busy', taskId, renewedAt: at };
      },
    });
    this.slots[slot] = { state: 'busy', taskId, renewedAt: heartbeat.lastRenewedAt };
    const cleanUp = async () => {
      this.hardStop.signal.removeEventListener('abort', onHardStop);
      await this.o.protection?.idle();
    };

    let outcome: RunOutcome;
    try {
      try {
        outcome = await (this.o.telemetry ?? unobservedTaskRuns).runTask(task, traceCarrierOf(received.message.MessageAttributes, body), () =>
          this.o.loop.run({
            task,
            lease: () => heartbeat.lease,
            signal: taskController.signal,
            // No read per turn: every checkpoint's transaction checks the cancel flag (CancelRequestedError).
            isCancelled: () => Promise.resolve(false),
            draining: () => this.stopController.signal.aborted,
            preloaded,
          }),
        );
      } catch (err) {
        if (!(err instanceof CancelRequestedError) || heartbeat.lost !== undefined) throw err;
        outcome = await this.cancelledOutcome(task);
      }
    } catch (err) {
      // Not run to an outcome: settled here, before the slot receives again (a pause it sets holds the next receive).
      await heartbeat.stop();
      try {
        await this.onTaskError(heartbeat.lost ?? err, received, task.attempts ?? 1, heartbeat.lease, logger);
      } finally {
        await cleanUp();
      }
      return undefined;
    }
    // The task no longer executes (no model call, no tool): the slot may receive the next one while
    // this one's result, webhook and delete go out, in that order, after the previous task's settle.
    this.slots[slot] = { state: 'idle', tickAt: Date.now() };
    const settled = previous
      .then(() => this.settle(received, task, outcome, heartbeat, logger, started))
      .catch((err: unknown) => {
        this.o.logger.error('consumer.error', { taskId, error: errorMessage(err) });
        this.events.emit('consumer_error', { error: asError(err) });
      })
      .finally(async () => {
        await cleanUp();
        this.taskEnded();
      });
    return { settled };
  }

  /**
   * Record a task's outcome: the result and the lease's release in one transaction (with the final
   * step, when the loop held it back), then the webhook, then the message's delete, only once the
   * result is durable.
   */
  private async settle(received: Received, task: TaskRecord, ran: RunOutcome, heartbeat: Heartbeat, logger: Logger, started: number): Promise<void> {
    const { taskId } = task;
    let outcome = ran;
    try {
      await heartbeat.stop();
      if (outcome.status === 'WAITING_APPROVAL') {
        // Suspended: the lease is released and the message deleted, so no worker and no visibility
        // is held while a person decides; the decision (or the expiry sweep) queues the task again.
        try {
          await this.o.log.suspendForApproval(heartbeat.lease, task, outcome);
        } catch (err) {
          if (!(err instanceof CancelRequestedError)) throw err;
          outcome = await this.cancelledOutcome(task);
        }
      }
      if (outcome.status !== 'WAITING_APPROVAL') {
        try {
          await this.o.log.finishAndRelease(heartbeat.lease, outcome);
        } catch (err) {
          // Cancelled during the last model call: the answer is dropped and CANCELLED recorded instead.
          if (!(err instanceof CancelRequestedError)) throw err;
          outcome = await this.cancelledOutcome(task);
          await this.o.log.finishAndRelease(heartbeat.lease, outcome);
        }
      }
      if (outcome.status === 'WAITING_APPROVAL') {
        logger.info('task.waiting_approval', { approvalId: outcome.pendingApproval.approvalId, tool: outcome.pendingApproval.tool, expiresAt: outcome.pendingApproval.expiresAt });
        this.events.emit('task_waiting_approval', { taskId, approvalId: outcome.pendingApproval.approvalId });
      } else {
        logger.info('task.finished', { status: outcome.status });
        this.events.emit('task_finished', { taskId, status: outcome.status, durationMs: Date.now() - started });
      }
      await this.notify(taskId, logger);
      await this.messages.delete(received);
    } catch (err) {
      await heartbeat.stop();
      await this.onTaskError(heartbeat.lost ?? err, received, task.attempts ?? 1, heartbeat.lease, logger);
    }
  }

  private async onTaskError(err: unknown, received: Received, attempts: number, lease: LeaseHandle, logger: Logger): Promise<void> {
    const { taskId } = lease;
    if (err instanceof FencedError) {
      // Someone else owns the task now; its message and its lease are theirs to settle.
      logger.warn('task.fenced', { error: errorMessage(err), fence: lease.fence });
      this.events.emit('task_fenced', { taskId, fence: lease.fence, message: errorMessage(err) });
      return;
    }
    if (err instanceof DrainingError || this.stopController.signal.aborted) {
      // Draining: everything done so far is checkpointed; the next worker resumes from there.
      await this.handBacks.handBackUncounted(received, lease, 'draining', 0);
      return;
    }
    if (err instanceof GatewayCircuitOpenError) {
      // Not the task's fault: pause everyone's polling and give the message back uncounted.
      this.circuit.pauseUntilProbeSucceeds('circuit_open', this.stopController.signal);
      await this.handBacks.handBackUncounted(received, lease, 'circuit_open', 0);
      return;
    }
    if (err instanceof ProviderWeatherError || isRetryableCancellation(err)) {
      await this.onWeather(err, received, lease, logger);
      return;
    }
    await this.handBacks.countFailure(asError(err), received, attempts, lease, logger);
  }

  /**
   * The provider's (or the store's) weather: hand the task back with a jittered backoff that grows
   * with its earlier weather hand-backs (at least what retry-after asked for), without spending a
   * receive; stop polling meanwhile. A rejected key pauses until a probe gets through, so tasks
   * complete once the key is fixed, without a redeploy.
   */
  private async onWeather(err: ProviderWeatherError | Error, received: Received, lease: LeaseHandle, logger: Logger): Promise<void> {
    const weather = err instanceof ProviderWeatherError ? err : undefined;
    const kind = weather?.kind ?? 'store_contention';
    const delaySeconds = weatherDelaySeconds(weatherHandBacks(received), weather?.retryAfterMs, this.weatherBackoff);
    logger.warn('task.provider_weather', { kind, status: weather?.status, delaySeconds, error: errorMessage(err) });
    this.events.emit('provider_weather', { taskId: lease.taskId, kind, ...(weather?.status !== undefined ? { status: weather.status } : {}), delaySeconds });
    if (kind === 'auth_rejected') this.circuit.pauseUntilProbeSucceeds('provider_auth', this.stopController.signal);
    else if (weather !== undefined) this.circuit.pauseFor('provider_weather', weather.retryAfterMs ?? this.weatherBackoff.baseMs ?? 2000);
    await this.handBacks.handBackUncounted(received, lease, 'provider_weather', delaySeconds);
  }

  /** The outcome of a task stopped by its cancel flag, with the usage and steps its checkpoints record. */
  private async cancelledOutcome(task: TaskRecord): Promise<TaskOutcome> {
    const steps = await this.o.log.list(task.taskId);
    const { usage } = replay(task.prompt, steps);
    return { status: 'CANCELLED', fields: { usage, steps: steps.length, error: { type: 'cancelled', message: 'cancelled by request' } } };
  }

  /** The task's webhook for where it stands: finished (completion) or waiting (`approval_requested`); each sent until recorded. */
  private async notify(taskId: string, logger: Logger): Promise<void> {
    await dispatchCompletionWebhook(this.o.notifier, taskId, logger, this.hardStop.signal);
    await dispatchApprovalWebhook(this.o.notifier, taskId, logger, this.hardStop.signal);
  }
}

/**
 * The row of a task whose first lease was just claimed, as the claim left it, from a read that may
 * have been served before the claim's transaction (or seen only part of it): no attempt counted
 * yet means the read came first, so apply what `markRunningUpdate` did. Undefined without a row.
 */
function firstRunRow(task: TaskRecord | undefined): TaskRecord | undefined {
  if (task === undefined || (task.attempts ?? 0) >= 1) return task;
  const now = new Date().toISOString();
  return { ...task, status: 'RUNNING', attempts: 1, startedAt: task.startedAt ?? now, updatedAt: now };
}

/** A task that ran to an outcome and is being recorded; `settled` never rejects. */
interface Settling {
  readonly settled: Promise<void>;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(errorMessage(err));
}
