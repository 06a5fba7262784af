import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';

/** Counts of what an injector did, for the soak's report. */
export interface FaultCounts {
  calls: number;
  injected: number;
}

/** An error shaped like the service's own, so the SDK's retry strategy classifies it as it would the real one. */
function serviceError(name: string, message: string, status: number): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status, attempts: 1 } });
}

/**
 * Throttle a share of a DynamoDB client's calls, as the service does: ProvisionedThroughputExceeded
 * or ThrottlingException, half each. Added in the finalizeRequest step after the SDK's retry
 * middleware, so every attempt (including the SDK's own retries) rolls the dice, exactly as a real
 * throttle would be retried by the SDK before the application sees it.
 */
export function throttleDynamo(client: DynamoDBClient, ratio: number, random: () => number = Math.random): FaultCounts {
  const counts: FaultCounts = { calls: 0, injected: 0 };
  client.middlewareStack.add(
    (next) => async (args) => {
      counts.calls += 1;
      const r = random();
      if (r < ratio) {
        counts.injected += 1;
        throw r < ratio / 2
          ? serviceError('ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded (injected)', 400)
          : serviceError('ThrottlingException', 'Rate of requests exceeds the allowed throughput (injected)', 400);
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'soakDynamoThrottle' },
  );
  return counts;
}

/**
 * Fail a share of an SQS client's ReceiveMessage calls before the SDK's retries, so the consumer
 * itself sees the error (as it would after an endpoint outage outlasting the SDK's retries).
 */
export function failSqsReceives(client: SQSClient, ratio: number, random: () => number = Math.random): FaultCounts {
  const counts: FaultCounts = { calls: 0, injected: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'ReceiveMessageCommand') return next(args);
      counts.calls += 1;
      if (random() < ratio) {
        counts.injected += 1;
        throw serviceError('InternalError', 'We encountered an internal error. Please try again. (injected)', 500);
      }
      return next(args);
    },
    { step: 'initialize', name: 'soakSqsReceiveFailure' },
  );
  return counts;
}
