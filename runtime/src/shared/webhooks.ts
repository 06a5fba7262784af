import { createHmac, timingSafeEqual } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { CallbackUrlPolicy, CallbackUrlRejectedError, type CheckedCallback } from './callback-url-policy';
import { errorMessage } from './errors';
import type { Logger } from './logger';
import { TERMINAL_STATUSES, type PendingApproval, type TaskRecord, type WebhookDelivery } from './task-model';
import type { TaskStore } from './task-store';

/**
 * Completion webhooks. The worker calls `WebhookNotifier.notify(taskId)` after it wrote the
 * terminal status and before it deletes the message; a worker that receives a message for a task
 * that is already terminal calls it again, so a crash in between delays the webhook instead of
 * losing it (at-least-once: receivers deduplicate on `x-openclaw-delivery`, the task ID).
 */
export const SIGNATURE_HEADER = 'x-openclaw-signature';
export const DELIVERY_HEADER = 'x-openclaw-delivery';
export const EVENT_HEADER = 'x-openclaw-event';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as Stripe and Slack do. */
export function signWebhook(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/** For receivers (and tests): true when the header signs this body and is within `toleranceSeconds` of now. */
export function verifyWebhookSignature(secret: string, header: string, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts['t']);
  const given = parts['v1'];
  if (!Number.isInteger(t) || given === undefined || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, body, t).split('v1=')[1] as string, 'hex');
  const actual = Buffer.from(given, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export interface WebhookRequest {
  readonly target: CheckedCallback;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
}

/** Sends one webhook and reports the receiver's status; throws on network errors and timeouts. */
export type WebhookTransport = (request: WebhookRequest) => Promise<number>;

/**
 * node:http(s) pinned to the address the policy checked, so a DNS answer that changes between the
 * check and the connect (rebinding) cannot redirect the call. Redirects are not followed.
 */
export const pinnedTransport: WebhookTransport = ({ target, headers, body, timeoutMs }) =>
  new Promise<number>((resolve, reject) => {
    const lookup: LookupFunction = (_host, options, callback) => {
      if (typeof options === 'object' && options.all === true) {
        (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
      } else {
        callback(null, target.address, target.family);
      }
    };
    const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target.url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });

export interface WebhookNotifierOptions {
  readonly store: TaskStore;
  /** The signing secret of the API key that submitted the task (by key name). */
  readonly secretFor: (keyName: string) => Promise<string | undefined> | string | undefined;
  readonly logger: Logger;
  /** Re-checked before every attempt. @default new CallbackUrlPolicy() */
  readonly policy?: CallbackUrlPolicy;
  /** @default pinnedTransport */
  readonly transport?: WebhookTransport;
  /** @default 6 */
  readonly maxAttempts?: number;
  /** First backoff ceiling; doubles per attempt, with full jitter. @default 500 */
  readonly baseDelayMs?: number;
  /** @default 20_000 */
  readonly maxDelayMs?: number;
  /** Per attempt. @default 5_000 */
  readonly timeoutMs?: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Statuses worth retrying: the receiver may succeed later. Other 4xx are its final answer. */
const retryable = (status: number) => status === 408 || status === 425 || status === 429 || status >= 500;

/** `x-openclaw-event` and `event` of the webhook sent when a task starts waiting for a person's approval. */
export const APPROVAL_REQUESTED = 'approval_requested';

/** The `approval_requested` body: what a person needs to decide, and where to answer. */
function approvalPayload(task: TaskRecord, pending: PendingApproval): string {
  return JSON.stringify({
    event: APPROVAL_REQUESTED,
    taskId: task.taskId,
    status: task.status,
    pendingApproval: pending,
    decisionUrl: `/v1/tasks/${task.taskId}/approvals/${pending.approvalId}`,
    ...(task.metadata !== undefined ? { metadata: task.metadata } : {}),
  });
}

/** The webhook body: the task's outcome, not its input (which the client already has). */
function payload(task: TaskRecord): string {
  return JSON.stringify({
    event: 'task.finished',
    taskId: task.taskId,
    status: task.status,
    ...(task.result !== undefined ? { result: task.result } : {}),
    ...(task.error !== undefined ? { error: task.error } : {}),
    ...(task.usage !== undefined ? { usage: task.usage } : {}),
    ...(task.steps !== undefined ? { steps: task.steps } : {}),
    ...(task.promptVersion !== undefined ? { promptVersion: task.promptVersion } : {}),
    ...(task.metadata !== undefined ? { metadata: task.metadata } : {}),
    ...(task.finishedAt !== undefined ? { finishedAt: task.finishedAt } : {}),
  });
}

export class WebhookNotifier {
  private readonly policy: CallbackUrlPolicy;
  private readonly transport: WebhookTransport;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly o: WebhookNotifierOptions) {
    this.policy = o.policy ?? new CallbackUrlPolicy();
    this.transport = o.transport ?? pinnedTransport;
    this.maxAttempts = o.maxAttempts ?? 6;
    this.baseDelayMs = o.baseDelayMs ?? 500;
    this.maxDelayMs = o.maxDelayMs ?? 20_000;
    this.timeoutMs = o.timeoutMs ?? 5_000;
    this.random = o.random ?? Math.random;
    this.now = o.now ?? Date.now;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Backoff before attempt `n + 1` (n ≥ 1): full jitter under an exponential ceiling. */
  delayMs(attempt: number): number {
    return Math.round(this.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1)));
  }

  /**
   * Deliver the completion webhook of a finished task, once its outcome is recorded nothing more
   * happens. Returns the recorded outcome, or undefined when there is nothing to send.
   */
  async notify(taskId: string, signal?: AbortSignal): Promise<WebhookDelivery | undefined> {
    const task = await this.o.store.get(taskId);
    if (task === undefined || task.callbackUrl === undefined || task.webhook !== undefined || !TERMINAL_STATUSES.has(task.status)) return undefined;
    const logger = this.o.logger.child({ taskId });
    const delivery = await this.deliver(task, task.callbackUrl, payload(task), 'task.finished', taskId, logger, signal);
    if (delivery === undefined) return undefined;
    return this.record(taskId, delivery, logger);
  }

  /**
   * Deliver the `approval_requested` webhook of a task waiting for a person (its pending approval,
   * the tool and its input, when it expires), once per approval: the outcome is recorded on the row
   * as `approvalWebhook`. Receivers deduplicate on `x-openclaw-delivery` (`<taskId>/<approvalId>`).
   */
  async notifyApprovalRequested(taskId: string, signal?: AbortSignal): Promise<WebhookDelivery | undefined> {
    const task = await this.o.store.get(taskId);
    const pending = task?.pendingApproval;
    if (task === undefined || task.callbackUrl === undefined || task.status !== 'WAITING_APPROVAL' || pending === undefined) return undefined;
    if (task.approvalWebhook?.approvalId === pending.approvalId) return undefined;
    const logger = this.o.logger.child({ taskId, approvalId: pending.approvalId });
    const delivery = await this.deliver(task, task.callbackUrl, approvalPayload(task, pending), APPROVAL_REQUESTED, `${taskId}/${pending.approvalId}`, logger, signal);
    if (delivery === undefined) return undefined;
    const recorded: WebhookDelivery = { ...delivery, at: new Date(this.now()).toISOString() };
    await this.o.store.recordApprovalWebhook(taskId, pending.approvalId, recorded);
    logger[recorded.status === 'DELIVERED' ? 'info' : 'warn']('webhook.recorded', { ...recorded, event: APPROVAL_REQUESTED });
    return recorded;
  }

  /** Signed, retried delivery of one event; undefined when stopping (the next receive retries). */
  private async deliver(
    task: TaskRecord,
    callbackUrl: string,
    body: string,
    event: string,
    deliveryId: string,
    logger: Logger,
    signal: AbortSignal | undefined,
  ): Promise<Omit<WebhookDelivery, 'at'> | undefined> {
    const secret = task.submittedBy === undefined ? undefined : await this.o.secretFor(task.submittedBy);
    if (secret === undefined) {
      // Never send unsigned: the receiver could not tell us from anyone else.
      return { status: 'FAILED', attempts: 0, lastError: `API key "${task.submittedBy ?? '?'}" has no webhook-signing key configured` };
    }
    let attempts = 0;
    let lastStatusCode: number | undefined;
    let lastError: string | undefined;
    const aborted = () => signal?.aborted === true;
    while (attempts < this.maxAttempts && !aborted()) {
      if (attempts > 0) await this.sleep(this.delayMs(attempts));
      if (aborted()) break;
      attempts += 1;
      let target: CheckedCallback;
      try {
        target = await this.policy.check(callbackUrl);
      } catch (err) {
        lastError = errorMessage(err);
        if (err instanceof CallbackUrlRejectedError) break;
        continue;
      }
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'openclaw-webhooks/1',
        [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(this.now() / 1000)),
        [DELIVERY_HEADER]: deliveryId,
        [EVENT_HEADER]: event,
      };
      try {
        lastStatusCode = await this.transport({ target, headers, body, timeoutMs: this.timeoutMs });
        lastError = undefined;
        if (lastStatusCode >= 200 && lastStatusCode < 300) return { status: 'DELIVERED', attempts, lastStatusCode };
        if (!retryable(lastStatusCode)) break;
      } catch (err) {
        lastError = errorMessage(err);
        lastStatusCode = undefined;
      }
      logger.warn('webhook.attempt_failed', { attempt: attempts, status: lastStatusCode, error: lastError, event });
    }
    if (aborted()) return undefined;
    return { status: 'FAILED', attempts, ...(lastStatusCode !== undefined ? { lastStatusCode } : {}), ...(lastError !== undefined ? { lastError: lastError.slice(0, 500) } : {}) };
  }

  private async record(taskId: string, outcome: Omit<WebhookDelivery, 'at'>, logger: Logger): Promise<WebhookDelivery> {
    const delivery: WebhookDelivery = { ...outcome, at: new Date(this.now()).toISOString() };
    await this.o.store.recordWebhook(taskId, delivery);
    logger[delivery.status === 'DELIVERED' ? 'info' : 'warn']('webhook.recorded', { ...delivery });
    return delivery;
  }
}
