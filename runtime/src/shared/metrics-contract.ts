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
  /**
   * A task handed back because the model call failed for a reason outside the task (rate limit,
   * overload, 5xx, timeout, rejected key); `kind` is a property. No receive was spent.
   */
  providerWeatherHandBacks: 'ProviderWeatherHandBacks',
  /**
   * The provider (through the gateway) rejected the API key (401/403): workers pause until a probe
   * gets through. Any datapoint is an operator page: set the key (no redeploy needed).
   */
  providerAuthRejected: 'ProviderAuthRejected',
  gatewayAdmitted: 'GatewayAdmitted',
  gatewayQueued: 'GatewayQueued',
  gatewayRejected: 'GatewayRejected',
  gatewayUpstreamErrors: 'GatewayUpstreamErrors',
  circuitOpen: 'CircuitOpen',
  /** Share (0–1) of the fleet's hourly spend ceiling in use, as a gateway replica sees it. */
  gatewaySpendCeilingUse: 'GatewaySpendCeilingUse',
  /** A call served by its tier's fallback model instead of the one it asked for. */
  gatewayFallbacks: 'GatewayFallbacks',
  intakeAccepted: 'IntakeAccepted',
  intakeRejected: 'IntakeRejected',
  /** A tool call that closed a loop: the model was warned (first) or the task failed (again). */
  loopsDetected: 'LoopsDetected',
  /** A task that ran out of one of its budgets (steps, tokens, cost, duration) and FAILED. */
  budgetExceeded: 'BudgetExceeded',
  /** Approvals waiting for a person, as a worker's approval sweep counts them (every worker publishes it: read Maximum). */
  approvalsPending: 'ApprovalsPending',
  /** Age in seconds of the oldest approval still waiting for a person (0 when none waits). */
  approvalOldestPendingSeconds: 'ApprovalOldestPendingSeconds',
  /** An approval that no one decided before it expired, recorded as a denial by the sweep. */
  approvalsExpired: 'ApprovalsExpired',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** Service names used as the `Service` dimension and as ECS container names. */
export const SERVICES = { intake: 'intake', worker: 'worker', gateway: 'gateway' } as const;
export type ServiceName = (typeof SERVICES)[keyof typeof SERVICES];
