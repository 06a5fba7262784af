import type { TaskRecord, TerminalStatus } from './task-model';
import { TASK_TTL_ATTRIBUTE } from './task-retention';

/**
 * The UpdateItem parts that move a task row to a terminal status, conditioned on it not being
 * terminal yet. Shared by the fenced (worker) and unfenced (DLQ-bound) paths so they stay identical.
 * `expiresAt` (epoch seconds) restarts the row's retention at the finish, so a long-running task is
 * kept as long after it ends as a short one.
 */
export function terminalUpdate(status: TerminalStatus, fields: Partial<TaskRecord>, now: string, expiresAt: number) {
  const names: Record<string, string> = { '#s': 'status', '#ttl': TASK_TTL_ATTRIBUTE };
  const values: Record<string, unknown> = { ':s': status, ':now': now, ':queued': 'QUEUED', ':running': 'RUNNING', ':ttl': expiresAt };
  const sets = ['#s = :s', 'updatedAt = :now', 'finishedAt = :now', '#ttl = :ttl'];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || k === 'status' || k === 'taskId' || k === TASK_TTL_ATTRIBUTE) continue;
    names[`#${k}`] = k;
    values[`:${k}`] = v;
    sets.push(`#${k} = :${k}`);
  }
  return {
    UpdateExpression: `SET ${sets.join(', ')}`,
    ConditionExpression: '#s IN (:queued, :running)',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}
