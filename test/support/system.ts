import { silentLogger } from '../../runtime/src/shared/logger';
import { DEFAULT_TASK_RETENTION_DAYS } from '../../runtime/src/shared/task-retention';
import { startLocalSystem, type LocalSystem, type LocalSystemOptions } from '../../tools/local/system';
import { emulatorEndpoints } from './aws';

/**
 * The whole local system on the run's shared emulators, with a unique name prefix, a silent
 * logger, one worker and a short long-poll (so stop is quick). Tests override what they exercise.
 */
export function startTestSystem(prefix: string, overrides: Partial<LocalSystemOptions> = {}): Promise<LocalSystem> {
  const endpoints = emulatorEndpoints();
  return startLocalSystem({
    logger: silentLogger,
    dynamoEndpoint: endpoints.dynamo,
    sqsEndpoint: endpoints.sqs,
    prefix: `${prefix}${Date.now().toString(36)}${process.pid}`,
    workers: 1,
    waitTimeSeconds: 1,
    taskRetentionDays: DEFAULT_TASK_RETENTION_DAYS,
    ...overrides,
  });
}
