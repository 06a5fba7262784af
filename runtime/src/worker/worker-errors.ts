import { OpenClawError } from '../shared/errors';

/** The consumer's options contradict each other or the queue (e.g. heartbeat vs visibility timeout). */
export class ConsumerConfigError extends OpenClawError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('config_error', message, context);
  }
}

/** The worker is draining: the task stops at a step boundary and is handed back, not failed. */
export class DrainingError extends OpenClawError {
  constructor(taskId: string) {
    super('draining', `Task ${taskId} handed back: the worker is stopping`, { taskId });
  }
}

/**
 * A checkpoint was refused because the task's row says `cancelRequested`: the task stops here
 * and is recorded CANCELLED (the flag is checked inside each checkpoint's transaction, not read
 * before every turn).
 */
export class CancelRequestedError extends OpenClawError {
  constructor(taskId: string) {
    super('cancel_requested', `Task ${taskId} was asked to stop; its next checkpoint was refused`, { taskId });
  }
}
