import { EventEmitter } from 'node:events';
import type { PauseReason } from './poll-gate';

/** Why a task went back to the queue without a failure being counted. */
export type HandBackReason = 'draining' | 'circuit_open' | 'leased_elsewhere';

/**
 * The consumer's typed events, in the spirit of sqs-consumer's. Listeners are for observation
 * (metrics, tests); the consumer's behaviour never depends on them.
 */
export interface ConsumerEvents {
  message_received: [{ messageId: string; queueUrl: string; receiveCount: number }];
  task_started: [{ taskId: string; fence: number; receiveCount: number; resumedFromStep: boolean }];
  task_finished: [{ taskId: string; status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; durationMs: number }];
  task_duplicate: [{ taskId: string }];
  task_handed_back: [{ taskId: string; reason: HandBackReason; requeued: boolean }];
  task_fenced: [{ taskId: string; fence: number; message: string }];
  task_failed: [{ taskId: string; receiveCount: number; error: Error; final: boolean }];
  heartbeat_failed: [{ taskId: string; error: Error }];
  paused: [{ reason: PauseReason }];
  resumed: [{ reason: PauseReason }];
  /** A failure outside any one task (receive errors, malformed messages). */
  consumer_error: [{ error: Error; messageId?: string }];
  stopped: [{ drained: boolean }];
}

export class ConsumerEmitter extends EventEmitter<ConsumerEvents> {}
