import type { SQSClient } from '@aws-sdk/client-sqs';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { ApiKeyEntry } from '../shared/api-keys';
import { APPROVAL_ID_PATTERN, EXPIRED_BY, poolOf, queueTask, type ApprovalEntry, type ApprovalStore } from '../shared/approvals';
import { HttpError, errorMessage } from '../shared/errors';
import { readBody } from '../shared/http';
import type { Logger } from '../shared/logger';
import { APPROVAL_DECISIONS, type ApprovalDecision, type TaskRecord } from '../shared/task-model';
import { describeIssues } from '../shared/zod-issues';
import type { CanaryRouter } from './canary-router';

/** `POST /v1/tasks/{taskId}/approvals/{approvalId}`. */
export const APPROVAL_PATH = /^\/v1\/tasks\/([A-Za-z0-9-]{1,64})\/approvals\/([A-Za-z0-9_-]{1,64})$/;

/** Decision bodies are small; a reason is at most 2000 characters. */
const MAX_DECISION_BODY_BYTES = 16 * 1024;
const JSON_TYPE = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;

export const approvalDecisionSchema = z
  .object({
    decision: z.enum(APPROVAL_DECISIONS).describe('approve runs the tool (once); deny gives the model an error result with the reason'),
    reason: z.string().min(1).max(2000).optional().describe('Why; shown to the model on a denial and recorded on the task'),
  })
  .strict();

export interface ApprovalRoutesOptions {
  readonly approvals: ApprovalStore;
  readonly sqs: SQSClient;
  readonly router: CanaryRouter;
  readonly logger: Logger;
}

const notOnTask = (taskId: string, approvalId: string) =>
  new HttpError(404, 'not_found_error', `Task ${taskId} has no approval ${approvalId.slice(0, 64)} (see pendingApproval.approvalId on GET /v1/tasks/${taskId})`);

function alreadyDecided(taskId: string, d: ApprovalDecision): HttpError {
  if (d.decidedBy === EXPIRED_BY) {
    return new HttpError(409, 'conflict', `Approval ${d.approvalId} of task ${taskId} expired with no decision and counted as a denial (recorded at ${d.decidedAt}); the task went on without running the tool`);
  }
  return new HttpError(409, 'conflict', `Approval ${d.approvalId} of task ${taskId} was already decided: ${d.decision} by API key "${d.decidedBy}" at ${d.decidedAt}; a decision cannot be changed`);
}

async function readDecision(req: IncomingMessage): Promise<z.infer<typeof approvalDecisionSchema>> {
  const type = String(req.headers['content-type'] ?? '');
  if (!JSON_TYPE.test(type)) throw new HttpError(415, 'unsupported_media_type', `Content-Type must be application/json (got "${type.slice(0, 100) || 'none'}")`);
  const raw = await readBody(req, MAX_DECISION_BODY_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    throw new HttpError(400, 'invalid_request_error', 'Body is not valid UTF-8 JSON; send {"decision": "approve" | "deny", "reason": "..."}');
  }
  const parsed = approvalDecisionSchema.safeParse(json);
  if (!parsed.success) throw new HttpError(400, 'invalid_request_error', `Invalid decision: ${describeIssues(parsed.error)}; send {"decision": "approve" | "deny", "reason": "..."}`.slice(0, 2000));
  return parsed.data;
}

/**
 * The approval side of the intake: a person's decision on a waiting tool call, and the cancel of a
 * waiting task. Both are conditional transactions (shared/approvals.ts) followed by queueing the
 * task on its pool's lane, so any worker resumes it from its checkpoints.
 */
export class ApprovalRoutes {
  constructor(private readonly o: ApprovalRoutesOptions) {}

  /** Whether this key may decide approvals (its `canApprove` entitlement); 403 otherwise. */
  assertMayApprove(caller: ApiKeyEntry): void {
    if (caller.entitlements?.canApprove !== true) {
      throw new HttpError(403, 'permission_error', `API key "${caller.name}" may not decide approvals; use a key whose entitlements set canApprove: true`);
    }
  }

  /** Record the decision on `task` (already checked to be the caller's); answers the row after it. */
  async decide(req: IncomingMessage, caller: ApiKeyEntry, task: TaskRecord, approvalId: string): Promise<TaskRecord> {
    const body = await readDecision(req);
    const { taskId } = task;
    if (!APPROVAL_ID_PATTERN.test(approvalId)) throw notOnTask(taskId, approvalId);
    const outcome = await this.o.approvals.decide(task, approvalId, body.decision, caller.name, body.reason);
    switch (outcome.kind) {
      case 'unknown':
        throw notOnTask(taskId, approvalId);
      case 'already_decided':
        throw alreadyDecided(taskId, outcome.decision);
      case 'expired':
        // Record the denial now rather than at the next sweep, so the task goes on at once.
        await this.expireNow(task).catch((err: unknown) => this.o.logger.warn('approval.expire_failed', { taskId, error: errorMessage(err) }));
        throw new HttpError(409, 'conflict', `Approval ${approvalId} of task ${taskId} expired at ${outcome.expiresAt}; no decision by then counts as a denial, so the task goes on without running the tool`);
      case 'decided':
        this.o.logger.info('approval.decided', { taskId, approvalId, decision: body.decision, key: caller.name });
        await this.resume(outcome.task, outcome.entry);
        return outcome.task;
    }
  }

  /** Cancel a task waiting for an approval; undefined when it stopped waiting meanwhile. */
  async cancelWaiting(task: TaskRecord): Promise<TaskRecord | undefined> {
    const done = await this.o.approvals.cancelWaiting(task);
    if (done === undefined) return undefined;
    // Queued so that a worker sends the completion webhook (it acknowledges the finished task).
    await this.resume(done.task, done.entry);
    return done.task;
  }

  private async expireNow(task: TaskRecord): Promise<void> {
    const pending = task.pendingApproval;
    if (pending === undefined) return;
    const entry: ApprovalEntry = { pool: poolOf(task), taskId: task.taskId, approvalId: pending.approvalId, priority: task.priority, requestedAt: pending.requestedAt, expiresAt: pending.expiresAt };
    const expired = await this.o.approvals.expire(entry);
    if (expired.kind === 'expired') await this.resume(expired.task, entry);
  }

  /**
   * Queue the task on its pool's lane and forget its approval entry. A failed send leaves the
   * entry (marked decided): the workers' expiry sweep queues it again, so a decision is never stuck.
   */
  private async resume(task: TaskRecord, entry: ApprovalEntry): Promise<void> {
    try {
      await queueTask(this.o.sqs, this.o.router.queueUrl(task.agentVersion, task.priority), task.taskId);
    } catch (err) {
      this.o.logger.error('approval.enqueue_failed', { taskId: task.taskId, error: errorMessage(err) });
      return;
    }
    await this.o.approvals.forget(entry).catch((err: unknown) => this.o.logger.warn('approval.forget_failed', { taskId: task.taskId, error: errorMessage(err) }));
  }
}
