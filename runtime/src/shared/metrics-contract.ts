/**
 * The one contract between the runtime's EMF metrics and the CloudWatch alarms and dashboard in
 * lib/. Both import this module, so a renamed metric breaks the build instead of silently
 * orphaning an alarm. Keep it dependency-free: the CDK app imports it too.
 */
export const METRIC_NAMESPACE = 'OpenClaw';

export const DIMENSIONS = {
  stage: 'Stage',
  service: 'Service',
  promptVersion: 'PromptVersion',
  model: 'Model',
  lane: 'Lane',
  finishReason: 'FinishReason',
  /** `stable` or `candidate` (runtime/src/shared/agent-version.ts): the canary alarm compares the two. */
  agentVersion: 'AgentVersion',
} as const;

export const METRICS = {
  tasksStarted: 'TasksStarted',
  tasksSucceeded: 'TasksSucceeded',
  tasksFailed: 'TasksFailed',
  taskDurationMs: 'TaskDurationMs',
  inputTokensPerTask: 'InputTokensPerTask',
  outputTokensPerTask: 'OutputTokensPerTask',
  toolCallsPerTask: 'ToolCallsPerTask',
  contextUtilisation: 'ContextUtilisation',
  finishReason: 'FinishReasonCount',
  llmRetries: 'LlmRetries',
  /** The receive count of a task taken up again (emitted from the second receive on). */
  messageReceiveCount: 'MessageReceiveCount',
  costPerTaskUsd: 'CostPerTaskUsd',
  gatewayAdmitted: 'GatewayAdmitted',
  gatewayQueued: 'GatewayQueued',
  gatewayRejected: 'GatewayRejected',
  gatewayUpstreamErrors: 'GatewayUpstreamErrors',
  circuitOpen: 'CircuitOpen',
  intakeAccepted: 'IntakeAccepted',
  intakeRejected: 'IntakeRejected',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** Service names used as the `Service` dimension and as ECS container names. */
export const SERVICES = { intake: 'intake', worker: 'worker', gateway: 'gateway' } as const;
export type ServiceName = (typeof SERVICES)[keyof typeof SERVICES];
