import type { TaskRecord } from '../shared/task-model';
import type { TraceCarrier } from '../shared/task-message';
import type { AgentLoop, RunContext } from './agent-loop';
import type { AgentTelemetry, TaskRunObserver } from './agent-telemetry';
import type { RunOutcome } from './checkpoint-log';
import { OpenClawError } from '../shared/errors';
import { ConsumerConfigError } from './worker-errors';

/** One agent profile as the worker runs it: its loop (prompt, tools, model) and its telemetry (Agent dimension). */
export interface AgentRunner {
  readonly name: string;
  readonly loop: Pick<AgentLoop, 'run'>;
  readonly telemetry: AgentTelemetry;
  /** Its prompt set's hash, recorded on its tasks. */
  readonly promptVersion: string;
}

/**
 * A task names an agent this worker does not run. During a deploy that adds the agent, an older
 * worker may receive the task first: the failure is counted like any fault of the task, so the
 * message comes back (to a newer worker) and only ends FAILED, with this message, after its last
 * receive.
 */
export class UnknownAgentError extends OpenClawError {
  constructor(taskId: string, agent: string, known: readonly string[]) {
    super(
      'unknown_agent',
      `Task ${taskId} names agent "${agent}", which this worker does not run (it runs ${known.join(', ')}); if a deploy adding it is rolling out, a newer worker will take the task, otherwise submit it with one of these`,
      { taskId, agent, known },
    );
  }
}

/** Tasks remembered for `telemetryOf`: far more than the at most 64 a worker runs at once. */
const REMEMBERED_TASKS = 512;

/**
 * Runs each task with its agent (the row's `agent`, else the default): the consumer's loop and its
 * task observer in one, so the consumer stays unaware of agents.
 */
export class AgentDispatcher implements TaskRunObserver, Pick<AgentLoop, 'run'> {
  private readonly runners: ReadonlyMap<string, AgentRunner>;
  private readonly fallback: AgentRunner;
  /** Which agent each recent task ran with, for events that carry only a task ID (a task given up). */
  private readonly recent = new Map<string, AgentRunner>();

  constructor(
    runners: readonly AgentRunner[],
    readonly defaultAgent: string,
  ) {
    this.runners = new Map(runners.map((r) => [r.name, r]));
    const fallback = this.runners.get(defaultAgent);
    if (fallback === undefined) throw new ConsumerConfigError(`The default agent "${defaultAgent}" is not among the worker's agents (${[...this.runners.keys()].join(', ')}); mark one of them default`, { defaultAgent });
    this.fallback = fallback;
  }

  /** The runner of tasks that name no agent. */
  get defaultRunner(): AgentRunner {
    return this.fallback;
  }

  get names(): string[] {
    return [...this.runners.keys()];
  }

  /** The agent a task runs with; undefined when it names one this worker does not run. */
  runnerFor(task: Pick<TaskRecord, 'agent'>): AgentRunner | undefined {
    return this.runners.get(task.agent ?? this.defaultAgent);
  }

  run(ctx: RunContext): Promise<RunOutcome> {
    const runner = this.runnerFor(ctx.task);
    if (runner === undefined) return Promise.reject(new UnknownAgentError(ctx.task.taskId, ctx.task.agent ?? '', this.names));
    return runner.loop.run(ctx);
  }

  runTask(task: TaskRecord, trace: TraceCarrier, run: () => Promise<RunOutcome>): Promise<RunOutcome> {
    // An unknown agent's attempt is still counted and traced, under the default agent's telemetry.
    const runner = this.runnerFor(task) ?? this.fallback;
    this.recent.delete(task.taskId);
    this.recent.set(task.taskId, runner);
    if (this.recent.size > REMEMBERED_TASKS) this.recent.delete(this.recent.keys().next().value as string);
    return runner.telemetry.runTask(task, trace, run);
  }

  /** The telemetry of the agent a task last ran with here, else the default agent's. */
  telemetryOf(taskId: string): AgentTelemetry {
    return (this.recent.get(taskId) ?? this.fallback).telemetry;
  }
}
