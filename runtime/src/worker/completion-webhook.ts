import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';

/** Sends a terminal task's completion webhook (runtime/src/shared/webhooks.ts). */
export interface TaskNotifier {
  notify(taskId: string, signal?: AbortSignal): Promise<unknown>;
  /** Sends the `approval_requested` webhook of a task waiting for a person. @default none */
  notifyApprovalRequested?(taskId: string, signal?: AbortSignal): Promise<unknown>;
}

/**
 * Sends the completion webhook of a finished task. It is awaited before the message is deleted, so
 * a crash delays the webhook instead of losing it; a failure is recorded on the task by the
 * notifier and never fails the task.
 */
export async function dispatchCompletionWebhook(notifier: TaskNotifier | undefined, taskId: string, logger: Logger, signal: AbortSignal): Promise<void> {
  if (notifier === undefined) return;
  try {
    await notifier.notify(taskId, signal);
  } catch (err) {
    logger.warn('webhook.error', { error: errorMessage(err) });
  }
}

/**
 * Sends the `approval_requested` webhook of a task that waits for a person (a no-op for any other
 * task, and for an approval whose webhook is already recorded). Awaited before the message is
 * deleted, like the completion webhook, so a crash delays it instead of losing it.
 */
export async function dispatchApprovalWebhook(notifier: TaskNotifier | undefined, taskId: string, logger: Logger, signal: AbortSignal): Promise<void> {
  if (notifier?.notifyApprovalRequested === undefined) return;
  try {
    await notifier.notifyApprovalRequested(taskId, signal);
  } catch (err) {
    logger.warn('webhook.error', { error: errorMessage(err), event: 'approval_requested' });
  }
}
