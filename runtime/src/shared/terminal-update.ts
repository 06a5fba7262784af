import type { TaskRecord, TaskStatus } from './task-model';

/**
 * The UpdateItem parts that move a task row to a terminal status, conditioned on it not being
 * terminal yet. Shared by the fenced (worker) and unfenced (DLQ-bound) paths so they stay identical.
 */
export function terminalUpdate(status: Exclude<TaskStatus, 'QUEUED' | 'RUNNING'>, fields: Partial<TaskRecord>, now: string) {
  const names: Record<string, string> = { '#s': 'status' };
  const values: Record<string, unknown> = { ':s': status, ':now': now, ':queued': 'QUEUED', ':running': 'RUNNING' };
  const sets = ['#s = :s', 'updatedAt = :now', 'finishedAt = :now'];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || k === 'status' || k === 'taskId') continue;
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
