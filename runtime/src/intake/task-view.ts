import { z } from 'zod';
import { AGENT_VERSIONS } from '../shared/agent-version';
import { APPROVAL_DECISIONS, PRIORITIES, TASK_STATUSES, type TaskRecord } from '../shared/task-model';
import { BUDGET_FIELDS, taskBudgetSchema } from '../shared/task-budget';

/**
 * The response bodies of the intake. They document the API (openapi.ts turns them into the
 * OpenAPI document) and the tests validate real responses against them, so the two cannot drift.
 */
export const errorBodySchema = z
  .object({ error: z.object({ type: z.string(), message: z.string() }).strict() })
  .strict();

export const taskAcceptedSchema = z
  .object({
    taskId: z.string(),
    status: z.enum(TASK_STATUSES),
    statusUrl: z.string().describe('Relative URL of GET /v1/tasks/{taskId}'),
  })
  .strict();

const isoTime = z.iso.datetime();

export const pendingApprovalSchema = z
  .object({
    approvalId: z.string().describe('Decide with POST /v1/tasks/{taskId}/approvals/{approvalId}'),
    tool: z.string().describe('The tool the model wants to call'),
    input: z.unknown().describe("The tool's input as the model sent it"),
    requestedAt: isoTime,
    expiresAt: isoTime.describe('No decision by then counts as a denial'),
  })
  .strict();

export const approvalDecisionRecordSchema = z
  .object({
    approvalId: z.string(),
    decision: z.enum(APPROVAL_DECISIONS),
    reason: z.string().optional(),
    decidedBy: z.string().describe('Name of the API key that decided (never the key), or system:expiry for an approval that expired (reason "expired")'),
    decidedAt: isoTime,
  })
  .strict();

export const taskViewSchema = z
  .object({
    taskId: z.string(),
    status: z.enum(TASK_STATUSES),
    priority: z.enum(PRIORITIES),
    prompt: z.string(),
    input: z.record(z.string(), z.unknown()).optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    callbackUrl: z.string().optional(),
    createdAt: isoTime,
    updatedAt: isoTime,
    startedAt: isoTime.optional(),
    finishedAt: isoTime.optional(),
    result: z.string().optional(),
    error: z
      .object({
        type: z.string(),
        message: z.string(),
        budget: z.enum(BUDGET_FIELDS).optional().describe('budget_exceeded: the budget that ran out'),
        limit: z.number().optional().describe('budget_exceeded: its limit'),
        used: z.number().optional().describe('budget_exceeded: what the task had used'),
      })
      .optional(),
    budget: taskBudgetSchema.optional().describe("The budget the task runs under: the request's, else the API key's default, else its ceiling"),
    usage: z
      .object({ inputTokens: z.number(), outputTokens: z.number(), llmCalls: z.number(), toolCalls: z.number(), costUsd: z.number().optional().describe('Estimated model cost in US dollars') })
      .optional(),
    steps: z.number().int().optional().describe('Checkpointed steps (LLM replies and tool results)'),
    promptVersion: z.string().optional(),
    agentVersion: z.enum(AGENT_VERSIONS).optional().describe('Which agent version runs the task: the stable one or the canary candidate'),
    cancelRequested: z.boolean().optional(),
    attempts: z.number().int().optional(),
    pendingApproval: pendingApprovalSchema.optional().describe('While WAITING_APPROVAL: the tool call a person must approve or deny'),
    decisions: z.array(approvalDecisionRecordSchema).optional().describe('Every approval decision on this task, oldest first'),
    webhook: z
      .object({
        status: z.enum(['DELIVERED', 'FAILED']),
        attempts: z.number().int(),
        lastStatusCode: z.number().int().optional(),
        lastError: z.string().optional(),
        at: isoTime,
      })
      .optional(),
  })
  .strict();

export const healthSchema = z.object({ status: z.string() }).strict();

export type TaskView = z.infer<typeof taskViewSchema>;

const PUBLIC_FIELDS = Object.keys(taskViewSchema.shape) as (keyof TaskView & keyof TaskRecord)[];

/** What a client sees of a task row: the documented fields only (not who submitted it, nor queue bookkeeping). */
export function toView(task: TaskRecord): TaskView {
  const out: Record<string, unknown> = {};
  for (const field of PUBLIC_FIELDS) {
    if (task[field] !== undefined) out[field] = task[field];
  }
  return out as TaskView;
}

export function accepted(task: TaskRecord): z.infer<typeof taskAcceptedSchema> {
  return { taskId: task.taskId, status: task.status, statusUrl: `/v1/tasks/${task.taskId}` };
}
