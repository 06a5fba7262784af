import { DEFAULT_TIERS } from '../../runtime/src/shared/gateway-limits';
import { QUEUE_DEMAND_INTERVAL_SECONDS } from '../../runtime/src/shared/queue-demand-contract';
import { Autoscaler, type ScalingDecision } from './autoscaler';
import { EventQueue } from './event-queue';
import { seededRng } from './rng';
import type { FleetScalingSpec } from './scaling-spec';
import { TokenBucket } from './token-bucket';

type Range = readonly [number, number];

/** A traffic spike over a steady baseline, and the physical facts of the fleet that serves it. */
export interface SpikeScenario {
  readonly seed: number;
  /** Workers the baseline traffic keeps busy; the arrival rate is derived from it. */
  readonly baselineWorkers: number;
  /** Arrival rate during the spike as a multiple of the baseline. */
  readonly spikeFactor: number;
  /** Baseline traffic before the spike, long enough for the fleet to settle (s). */
  readonly warmupSeconds: number;
  readonly spikeSeconds: number;
  /** Baseline traffic after the spike until the run stops (s). */
  readonly afterSeconds: number;
  /** Duration of one LLM call, uniform (s). */
  readonly llmCallSeconds: Range;
  /** LLM calls per task, uniform integer. */
  readonly llmCallsPerTask: Range;
  /** Tool time between two LLM calls, uniform (s). */
  readonly toolSeconds: Range;
  /** Fargate task start: provisioning, image pull, health check (s). */
  readonly taskStartSeconds: Range;
  /** CloudWatch: period end to datapoint available to alarms, AWS's one-minute metrics (s). */
  readonly metricDelaySeconds: number;
  /** The same for the high-resolution metrics the intake publishes (PutMetricData + ingestion, s). */
  readonly highResDelaySeconds: number;
  /** Fargate's per-account launch token bucket: burst and sustained tasks per second. */
  readonly fargateLaunchBurst: number;
  readonly fargateLaunchesPerSecond: number;
  /** The provider's request limit that the gateway enforces for the whole fleet. */
  readonly providerRpm: number;
  /** CPU of a worker waiting on the LLM and of an idle one (%), for CPU-based policies. */
  readonly cpuBusyPercent: number;
  readonly cpuIdlePercent: number;
}

export const BLACK_FRIDAY: SpikeScenario = {
  seed: 20261127,
  baselineWorkers: 40,
  spikeFactor: 8,
  warmupSeconds: 3600,
  spikeSeconds: 1800,
  afterSeconds: 4 * 3600,
  // Mean task 59.8 s: the prod config's averageTaskSeconds (60), which the scaling policy is built from.
  llmCallSeconds: [2.5, 26.5],
  llmCallsPerTask: [2, 6],
  toolSeconds: [0.2, 1],
  taskStartSeconds: [60, 90],
  metricDelaySeconds: 60,
  highResDelaySeconds: 10,
  fargateLaunchBurst: 100,
  fargateLaunchesPerSecond: 20,
  // The gateway's default Sonnet tier: what prod enforces unless GATEWAY_LIMITS says otherwise.
  providerRpm: DEFAULT_TIERS.sonnet.rpm,
  cpuBusyPercent: 5,
  cpuIdlePercent: 1,
};

const mid = (r: Range) => (r[0] + r[1]) / 2;

/** Mean task time implied by the scenario's distributions (s). */
export function meanTaskSeconds(s: SpikeScenario): number {
  const calls = mid(s.llmCallsPerTask);
  return calls * mid(s.llmCallSeconds) + (calls - 1) * mid(s.toolSeconds);
}

export interface TimelinePoint {
  readonly t: number;
  readonly visible: number;
  readonly running: number;
  readonly desired: number;
  readonly busy: number;
  /** Tasks launched but not yet running (billed by Fargate from the image pull). */
  readonly starting: number;
}

export interface SimSummary {
  readonly spikeStart: number;
  readonly spikeEnd: number;
  /** Workers the spike needs: spike arrival rate × mean task time, capped at maxCapacity. */
  readonly neededWorkers: number;
  readonly uncappedNeed: number;
  /** Spike start to the first scale-out decision (s). */
  readonly firstScaleOutSeconds?: number;
  /** Spike start until running workers first reach neededWorkers (s); absent if never. */
  readonly timeToScaleSeconds?: number;
  readonly peakRunning: number;
  readonly peakVisible: number;
  readonly spikeTasks: number;
  /** Spike-window tasks not finished when the run stopped (their times count as lower bounds). */
  readonly unfinishedSpikeTasks: number;
  readonly p50WaitSeconds: number;
  readonly p95WaitSeconds: number;
  readonly p95CompletionSeconds: number;
  /** Spike start until every spike-window task finished (s); absent if not within the run. */
  readonly drainSeconds?: number;
  /** Worker-hours billed over the run (starting + running tasks). */
  readonly workerHours: number;
  readonly p95GatewayWaitSeconds: number;
  /** Most LLM calls the gateway sent upstream in one minute, against scenario.providerRpm. */
  readonly peakLlmRpm: number;
  readonly scaleDecisions: number;
  /** Peak running workers over what the spike needs, minus 1 (0.1 = 10 % over). */
  readonly overshoot: number;
  /** Workers the baseline traffic needs (arrival rate × mean task time). */
  readonly baselineNeed: number;
  /** Share of 10-second samples in the steady windows with running workers within ±15 % of baselineNeed. */
  readonly steadyWithinBand: number;
  /** Desired-count changes that reversed the previous change's direction, per hour of the steady windows. */
  readonly steadyReversalsPerHour: number;
  /** Spike end until running workers are back at baselineNeed + 15 % (s); absent if never. */
  readonly backToBaselineSeconds?: number;
  /** Worker-hours if every task had a worker the moment it arrived and none idled: arrivals × mean task time. */
  readonly idealWorkerHours: number;
  /** Busy workers scale-in marked to stop after their task (task protection) and busy workers it stopped (always 0). */
  readonly protectedAtScaleIn: number;
  readonly busyStoppedByScaleIn: number;
}

export interface SimResult {
  readonly spec: FleetScalingSpec;
  readonly scenario: SpikeScenario;
  readonly timeline: readonly TimelinePoint[];
  readonly decisions: readonly (ScalingDecision & { readonly t: number; readonly from: number })[];
  readonly summary: SimSummary;
}

interface Task {
  readonly arrival: number;
  readonly calls: number;
  start?: number;
  done?: number;
}

interface Worker {
  state: 'starting' | 'idle' | 'busy' | 'stopped';
  /** Scale-in chose this busy worker: it stops when its task is done (task protection). */
  stopAfterTask: boolean;
  task?: Task;
  callsLeft: number;
}

type Ev =
  | { readonly kind: 'arrival'; readonly gen: number }
  | { readonly kind: 'rateChange' }
  | { readonly kind: 'tick' }
  | { readonly kind: 'ready'; readonly worker: Worker }
  | { readonly kind: 'callDone'; readonly worker: Worker }
  | { readonly kind: 'toolDone'; readonly worker: Worker };

/** Nearest-rank percentile of unsorted values; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/**
 * Discrete-event simulation of the worker fleet: Poisson arrivals into one queue, one task per
 * worker, LLM calls metered by the gateway's bucket at the provider's limit, per-minute CloudWatch
 * samples feeding the policies read from a template, Fargate start latency, and scale-in that
 * respects task protection (busy workers finish their task first).
 */
export function simulateSpike(spec: FleetScalingSpec, scenario: SpikeScenario): SimResult {
  const rng = seededRng(scenario.seed);
  const events = new EventQueue<Ev>();
  const autoscaler = new Autoscaler(spec, { metricDelaySeconds: scenario.metricDelaySeconds, highResDelaySeconds: scenario.highResDelaySeconds });
  const bucket = new TokenBucket(scenario.providerRpm);
  const fargate = new TokenBucket(scenario.fargateLaunchesPerSecond * 60, scenario.fargateLaunchBurst);
  // The intake's publisher: backlog and in flight read every 10 s, arrivals counted where sent.
  let arrivalsThisTick = 0;
  const fine: TimelinePoint[] = [];
  let arrivalsThisMinute = 0;
  let protectedAtScaleIn = 0;
  const busyStoppedByScaleIn = 0;
  const taskSeconds = meanTaskSeconds(scenario);
  const baseRate = scenario.baselineWorkers / taskSeconds;
  const spikeStart = scenario.warmupSeconds;
  const spikeEnd = spikeStart + scenario.spikeSeconds;
  const end = spikeEnd + scenario.afterSeconds;
  const rateAt = (t: number) => (t >= spikeStart && t < spikeEnd ? baseRate * scenario.spikeFactor : baseRate);

  const queue: Task[] = [];
  let head = 0;
  const tasks: Task[] = [];
  const workers: Worker[] = [];
  const idle: Worker[] = [];
  const gatewayWaits: number[] = [];
  const callsPerMinute = new Map<number, number>();
  const timeline: TimelinePoint[] = [];
  const decisions: (ScalingDecision & { t: number; from: number })[] = [];
  let desired = Math.min(spec.maxCapacity, Math.max(spec.minCapacity, scenario.baselineWorkers));
  let now = 0;

  const startCall = (w: Worker) => {
    const start = bucket.reserve(now);
    gatewayWaits.push(start - now);
    const minute = Math.floor(start / 60);
    callsPerMinute.set(minute, (callsPerMinute.get(minute) ?? 0) + 1);
    events.schedule(start + rng.uniform(...scenario.llmCallSeconds), { kind: 'callDone', worker: w });
  };
  const dispatch = () => {
    while (head < queue.length && idle.length > 0) {
      const w = idle.pop() as Worker;
      const task = queue[head++] as Task;
      task.start = now;
      w.state = 'busy';
      w.task = task;
      w.callsLeft = task.calls;
      startCall(w);
    }
  };
  const live = () => workers.filter((w) => w.state !== 'stopped' && !w.stopAfterTask);
  const launch = (n: number) => {
    for (let i = 0; i < n; i++) {
      const w: Worker = { state: 'starting', stopAfterTask: false, callsLeft: 0 };
      workers.push(w);
      // Fargate admits launches through the account's token bucket, then the task provisions,
      // pulls the image and passes its health check.
      events.schedule(fargate.reserve(now) + rng.uniform(...scenario.taskStartSeconds), { kind: 'ready', worker: w });
    }
  };
  const applyDesired = () => {
    let excess = live().length - desired;
    if (excess < 0) {
      // Workers that were going to stop after their task are kept first: no start latency.
      for (const w of workers) {
        if (excess < 0 && w.stopAfterTask && w.state === 'busy') {
          w.stopAfterTask = false;
          excess++;
        }
      }
      launch(-excess);
      return;
    }
    // ECS stops pending tasks first, then idle ones; protected (busy) tasks stop after their task.
    for (const state of ['starting', 'idle', 'busy'] as const) {
      for (const w of workers) {
        if (excess <= 0) return;
        if (w.state !== state || w.stopAfterTask) continue;
        // A busy worker holds task scale-in protection: ECS leaves it running; it stops after its task.
        if (state === 'busy') {
          w.stopAfterTask = true;
          protectedAtScaleIn++;
        } else {
          w.state = 'stopped';
          const i = idle.indexOf(w);
          if (i >= 0) idle.splice(i, 1);
        }
        excess--;
      }
    }
  };
  const finishTask = (w: Worker) => {
    (w.task as Task).done = now;
    delete w.task;
    if (w.stopAfterTask) {
      w.state = 'stopped';
      w.stopAfterTask = false;
      return;
    }
    w.state = 'idle';
    idle.push(w);
    dispatch();
  };

  launch(desired);
  // The baseline fleet is already running when the run starts.
  for (const w of workers) {
    w.state = 'idle';
    idle.push(w);
  }
  // The fleet starts with its baseline Fargate launches long done: the bucket starts full.
  // Arrivals are a Poisson process whose rate steps at the spike's start and end: at each step the
  // pending inter-arrival time is drawn again at the new rate (a generation number drops the old one).
  let gen = 0;
  events.schedule(rng.exponential(1 / baseRate), { kind: 'arrival', gen });
  events.schedule(spikeStart, { kind: 'rateChange' });
  events.schedule(spikeEnd, { kind: 'rateChange' });
  events.schedule(QUEUE_DEMAND_INTERVAL_SECONDS, { kind: 'tick' });

  for (let ev = events.pop(); ev !== undefined && ev.at <= end; ev = events.pop()) {
    now = ev.at;
    const p = ev.payload;
    switch (p.kind) {
      case 'rateChange':
        gen++;
        events.schedule(now + rng.exponential(1 / rateAt(now)), { kind: 'arrival', gen });
        break;
      case 'arrival': {
        if (p.gen !== gen) break;
        const task: Task = { arrival: now, calls: rng.int(...scenario.llmCallsPerTask) };
        tasks.push(task);
        arrivalsThisMinute++;
        arrivalsThisTick++;
        queue.push(task);
        dispatch();
        events.schedule(now + rng.exponential(1 / rateAt(now)), { kind: 'arrival', gen });
        break;
      }
      case 'ready':
        if (p.worker.state === 'starting') {
          p.worker.state = 'idle';
          idle.push(p.worker);
          dispatch();
        }
        break;
      case 'callDone':
        p.worker.callsLeft -= 1;
        if (p.worker.callsLeft <= 0) finishTask(p.worker);
        else events.schedule(now + rng.uniform(...scenario.toolSeconds), { kind: 'toolDone', worker: p.worker });
        break;
      case 'toolDone':
        startCall(p.worker);
        break;
      case 'tick': {
        const running = workers.filter((w) => w.state === 'idle' || w.state === 'busy');
        const busy = running.filter((w) => w.state === 'busy').length;
        const visible = queue.length - head;
        autoscaler.record({ t: now, demandBacklog: visible, demandInFlight: busy, demandArrivals: arrivalsThisTick });
        arrivalsThisTick = 0;
        const minute = now % 60 === 0;
        if (minute) {
          const cpu = running.length === 0 ? 0 : (busy * scenario.cpuBusyPercent + (running.length - busy) * scenario.cpuIdlePercent) / running.length;
          autoscaler.record({ t: now, visibleMessages: visible, inFlightMessages: busy, sentMessages: arrivalsThisMinute, runningTasks: running.length, cpuUtilization: cpu });
          arrivalsThisMinute = 0;
        }
        const decision = autoscaler.evaluate(now, desired);
        if (decision !== undefined) {
          decisions.push({ ...decision, t: now, from: desired });
          desired = decision.desired;
          applyDesired();
        }
        const point = { t: now, visible, running: running.length, desired, busy, starting: workers.filter((w) => w.state === 'starting').length };
        fine.push(point);
        if (minute) timeline.push(point);
        events.schedule(now + QUEUE_DEMAND_INTERVAL_SECONDS, { kind: 'tick' });
        break;
      }
    }
  }
  return { spec, scenario, timeline, decisions, summary: summarize() };

  function summarize(): SimSummary {
    const spikeTasks = tasks.filter((t) => t.arrival >= spikeStart && t.arrival < spikeEnd);
    const waits = spikeTasks.map((t) => (t.start ?? end) - t.arrival);
    const completions = spikeTasks.map((t) => (t.done ?? end) - t.arrival);
    const uncappedNeed = Math.ceil(baseRate * scenario.spikeFactor * taskSeconds);
    const neededWorkers = Math.min(spec.maxCapacity, uncappedNeed);
    const after = fine.filter((pt) => pt.t >= spikeStart);
    const reached = after.find((pt) => pt.running >= neededWorkers);
    const firstOut = decisions.find((d) => d.t >= spikeStart && d.desired > d.from);
    const unfinished = spikeTasks.filter((t) => t.done === undefined).length;
    const lastDone = Math.max(...spikeTasks.map((t) => t.done ?? Infinity));
    const billedSeconds = fine.reduce((sum, pt) => sum + (pt.running + pt.starting) * QUEUE_DEMAND_INTERVAL_SECONDS, 0);
    const peakRunning = Math.max(...fine.map((pt) => pt.running));
    const baselineNeed = Math.ceil(baseRate * taskSeconds);
    // Steady windows: the half hour before the spike, and from an hour after it to the end.
    const steady = (pt: TimelinePoint) => (pt.t >= spikeStart - 1800 && pt.t < spikeStart) || pt.t >= spikeEnd + 3600;
    const steadyPoints = fine.filter(steady);
    const within = steadyPoints.filter((pt) => Math.abs(pt.running - baselineNeed) <= 0.15 * baselineNeed).length;
    let reversals = 0;
    let lastDirection = 0;
    for (const d of decisions.filter((x) => steady({ t: x.t } as TimelinePoint))) {
      const direction = Math.sign(d.desired - d.from);
      if (direction !== 0 && lastDirection !== 0 && direction !== lastDirection) reversals++;
      if (direction !== 0) lastDirection = direction;
    }
    const steadyHours = (steadyPoints.length * QUEUE_DEMAND_INTERVAL_SECONDS) / 3600;
    const back = fine.find((pt) => pt.t >= spikeEnd && pt.running <= baselineNeed * 1.15);
    return {
      spikeStart,
      spikeEnd,
      neededWorkers,
      uncappedNeed,
      ...(firstOut !== undefined ? { firstScaleOutSeconds: firstOut.t - spikeStart } : {}),
      ...(reached !== undefined ? { timeToScaleSeconds: reached.t - spikeStart } : {}),
      peakRunning,
      peakVisible: Math.max(...timeline.map((pt) => pt.visible)),
      spikeTasks: spikeTasks.length,
      unfinishedSpikeTasks: unfinished,
      p50WaitSeconds: percentile(waits, 50),
      p95WaitSeconds: percentile(waits, 95),
      p95CompletionSeconds: percentile(completions, 95),
      ...(unfinished === 0 && Number.isFinite(lastDone) ? { drainSeconds: lastDone - spikeStart } : {}),
      workerHours: billedSeconds / 3600,
      p95GatewayWaitSeconds: percentile(gatewayWaits, 95),
      peakLlmRpm: Math.max(0, ...callsPerMinute.values()),
      scaleDecisions: decisions.length,
      overshoot: peakRunning / neededWorkers - 1,
      baselineNeed,
      steadyWithinBand: steadyPoints.length === 0 ? 0 : within / steadyPoints.length,
      steadyReversalsPerHour: steadyHours === 0 ? 0 : reversals / steadyHours,
      ...(back !== undefined ? { backToBaselineSeconds: back.t - spikeEnd } : {}),
      idealWorkerHours: (tasks.length * taskSeconds) / 3600,
      protectedAtScaleIn,
      busyStoppedByScaleIn,
    };
  }
}
