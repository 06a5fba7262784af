import type { AgentVersion } from './agent-version';

/**
 * The task record and its DynamoDB layout. One table, one partition per task:
 *   TASK#<id> / META        the task row clients see
 *   TASK#<id> / LOCK        the lease (owner, fence, expiresAt)
 *   TASK#<id> / STEP#000001 one checkpoint per LLM reply or tool result
 * Keeping them in one partition lets a step write and a lease check share a transaction.
 */
import type { BudgetField, TaskBudget } from './task-budget';

/**
 * `WAITING_APPROVAL`: the model called a tool that a person must approve; no worker holds the task
 * and its message is deleted until a decision (or the approval's expiry) queues it again.
 */
export const TASK_STATUSES = ['QUEUED', 'RUNNING', 'WAITING_APPROVAL', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
/** The statuses a task ends in. */
export type TerminalStatus = 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** A `requires_approval` tool call waiting for a person's decision (on the task row while WAITING_APPROVAL). */
export interface PendingApproval {
  /** Derived from the call's idempotency key (shared/approvals.ts), so the same call always has the same ID. */
  readonly approvalId: string;
  readonly tool: string;
  /** The tool's input as the model sent it. */
  readonly input: unknown;
  readonly requestedAt: string;
  /** No decision by then counts as a denial (the worker's expiry sweep records it). */
  readonly expiresAt: string;
}

export const APPROVAL_DECISIONS = ['approve', 'deny'] as const;
export type ApprovalDecisionKind = (typeof APPROVAL_DECISIONS)[number];

/** A decision on an approval, recorded on the task row (append-only). */
export interface ApprovalDecision {
  readonly approvalId: string;
  readonly decision: ApprovalDecisionKind;
  readonly reason?: string;
  /** The API key's name (never the key), or `system:expiry` for an approval that expired. */
  readonly decidedBy: string;
  readonly decidedAt: string;
}

export const PRIORITIES = ['high', 'normal'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface TaskUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly llmCalls: number;
  readonly toolCalls: number;
  /** Estimated model cost in US dollars (price table), when the worker computed it. */
  readonly costUsd?: number;
}

export interface TaskError {
  readonly type: string;
  readonly message: string;
  /** `budget_exceeded` only: the budget that ran out, its limit and what was used. */
  readonly budget?: BudgetField;
  readonly limit?: number;
  readonly used?: number;
}

/** Outcome of the completion webhook, recorded on the task row by the notifier. */
export interface WebhookDelivery {
  readonly status: 'DELIVERED' | 'FAILED';
  readonly attempts: number;
  /** HTTP status of the last attempt, when the receiver answered. */
  readonly lastStatusCode?: number;
  readonly lastError?: string;
  readonly at: string;
}

export interface TaskRecord {
  readonly taskId: string;
  readonly status: TaskStatus;
  readonly priority: Priority;
  readonly prompt: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly callbackUrl?: string;
  /**
   * Structured input as submitted. Stored once (as its JSON text): a row with an input has no
   * stored `prompt`; the store renders `prompt` from it when the row is read (renderStructuredInput).
   */
  readonly input?: StructuredInput;
  /** Set by the intake once SendMessage succeeded; a QUEUED row without it may not be in the queue yet. */
  readonly enqueuedAt?: string;
  readonly webhook?: WebhookDelivery;
  /** Name of the API key that submitted the task (never the key itself). */
  readonly submittedBy?: string;
  /**
   * The tools this task may use, copied from the key's entitlements at intake (a later change to
   * the key does not reach tasks already accepted). Absent: every tool the worker offers.
   */
  readonly allowedTools?: readonly string[];
  /** What the task may use (resolved at intake from the request and its key's budgets); the worker enforces it. */
  readonly budget?: TaskBudget;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly result?: string;
  readonly error?: TaskError;
  readonly usage?: TaskUsage;
  readonly steps?: number;
  readonly promptVersion?: string;
  /** The worker pool the intake routed the task to (agent canary); absent on rows of an older intake: stable. */
  readonly agentVersion?: AgentVersion;
  readonly cancelRequested?: boolean;
  readonly attempts?: number;
  /** Set while WAITING_APPROVAL: the call a person must decide on. */
  readonly pendingApproval?: PendingApproval;
  /** Every approval decision taken on this task, oldest first. */
  readonly decisions?: readonly ApprovalDecision[];
  /** The `approval_requested` webhook's outcome for the latest approval (not the completion webhook's). */
  readonly approvalWebhook?: WebhookDelivery & { readonly approvalId: string };
}

/** The structured alternative to a prompt: instructions plus JSON data. */
export interface StructuredInput {
  readonly instructions: string;
  readonly data?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * The text the agent receives for a structured input: the instructions, then the data as JSON.
 * Rows keep only the input and the prompt is rendered when read, so large data is stored once.
 */
export function renderStructuredInput(input: StructuredInput): string {
  return input.data === undefined ? input.instructions : `${input.instructions}\n\nInput (JSON):\n${JSON.stringify(input.data)}`;
}

export type StepKind = 'llm' | 'tool';

/** A checkpoint. `payload` is what the agent loop needs to replay the step without redoing it. */
export interface StepRecord {
  readonly taskId: string;
  readonly seq: number;
  readonly kind: StepKind;
  readonly fence: number;
  readonly createdAt: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

/**
 * Body of every task queue message: only the ID; the row is the source of truth. The trace context
 * travels in message attributes (task-message.ts).
 */
export interface TaskMessage {
  readonly taskId: string;
  /** Where an older intake put the W3C traceparent; read only as a fallback, never written. */
  readonly traceparent?: string;
}

export const taskPk = (taskId: string): string => `TASK#${taskId}`;
export const META_SK = 'META';
export const LOCK_SK = 'LOCK';
export const STEP_PREFIX = 'STEP#';
export const stepSk = (seq: number): string => `${STEP_PREFIX}${String(seq).padStart(6, '0')}`;
