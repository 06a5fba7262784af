import { EventEmitter } from 'node:events';
import type { PauseReason } from './poll-gate';
import type { WeatherKind } from './provider-weather';

/** Why a task went back to the queue without a failure being counted. */
export type HandBackReason = 'draining' | 'circuit_open' | 'leased_elsewhere' | 'provider_weather';

/**
 * The consumer's typed events, in the spirit of sqs-consumer's. Listeners are for observation
 * (metrics, tests); the consumer's behaviour never depends on them.
 */
export interface ConsumerEvents {
  message_received: [{ messageId: string; queueUrl: string; receiveCount: number }];
  task_started: [{ taskId: string; fence: number; receiveCount: number; resumedFromStep: boolean }];
  task_finished: [{ taskId: string; status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; durationMs: number }];
  /** The task stopped at a `requires_approval` call: lease released, message deleted, waiting for a person. */
  task_waiting_approval: [{ taskId: string; approvalId: string }];
  task_duplicate: [{ taskId: string }];
  /** `requeued`: a fresh copy replaced the message (its receive count starts over). */
  task_handed_back: [{ taskId: string; reason: HandBackReason; requeued: boolean; delaySeconds: number }];
  /** A model call failed for a reason outside the task (rate limit, overload, 5xx, timeout, rejected key). */
  provider_weather: [{ taskId: string; kind: WeatherKind; status?: number; delaySeconds: number }];
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
