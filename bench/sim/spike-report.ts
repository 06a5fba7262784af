import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLACK_FRIDAY, meanTaskSeconds, simulateSpike, type SimResult, type SpikeScenario } from './fleet-sim';
import { prodWorkerScaling } from './prod-template';
import { queueProcessingPatternScaling } from './reference-pattern';
import type { FleetScalingSpec } from './scaling-spec';
import { timelineSvg } from './svg-plot';

export interface FleetSimulationOptions {
  /** Where fleet-sim.{json,svg,md} are written. */
  readonly outDir: string;
  /** @default BLACK_FRIDAY */
  readonly scenario?: SpikeScenario;
}

export interface FleetSimulationRun {
  readonly label: string;
  readonly result: SimResult;
}

const minutes = (s: number | undefined) => (s === undefined ? 'never' : `${(s / 60).toFixed(1)} min`);

/** One Markdown table row per run. */
export function summaryTable(runs: readonly FleetSimulationRun[]): string {
  const head = '| policy | min–max | first scale-out | time to scale | peak workers | peak backlog | p95 queue wait | p95 completion | spike drained | worker-hours | peak LLM RPM (limit) |';
  const rows = runs.map(({ label, result }) => {
    const { spec, scenario, summary: s } = result;
    return [
      label,
      `${spec.minCapacity}–${spec.maxCapacity}`,
      minutes(s.firstScaleOutSeconds),
      `${minutes(s.timeToScaleSeconds)} (to ${s.neededWorkers})`,
      String(s.peakRunning),
      String(s.peakVisible),
      minutes(s.p95WaitSeconds),
      minutes(s.p95CompletionSeconds),
      s.drainSeconds === undefined ? `no (${s.unfinishedSpikeTasks} left)` : minutes(s.drainSeconds),
      s.workerHours.toFixed(0),
      `${s.peakLlmRpm} (${scenario.providerRpm})`,
    ].join(' | ');
  });
  return [head, `|${'---|'.repeat(11)}`, ...rows.map((r) => `| ${r} |`)].join('\n');
}

function withMax(spec: FleetScalingSpec, maxCapacity: number): FleetScalingSpec {
  return { ...spec, maxCapacity, source: `${spec.source} (maxCapacity ${spec.maxCapacity} → ${maxCapacity}, what-if)` };
}

/**
 * The Black-Friday spike against the prod template's worker scaling and against
 * QueueProcessingFargateService's default step scaling, at prod's min/max and, as a what-if, with
 * maxCapacity raised to what the spike needs so the policies rather than the cap decide.
 */
export function runFleetSimulation(options: FleetSimulationOptions): { runs: FleetSimulationRun[]; table: string; files: string[] } {
  const scenario = options.scenario ?? BLACK_FRIDAY;
  const prod = prodWorkerScaling();
  const need = Math.ceil((scenario.baselineWorkers * scenario.spikeFactor * 1.25) / 10) * 10;
  const runs: FleetSimulationRun[] = [
    { label: 'prod template: backlog-per-task target tracking', result: simulateSpike(prod, scenario) },
    { label: 'ecs-patterns QueueProcessingFargateService defaults', result: simulateSpike(queueProcessingPatternScaling(prod.minCapacity, prod.maxCapacity), scenario) },
    { label: 'what-if: prod policy, max raised', result: simulateSpike(withMax(prod, need), scenario) },
    { label: 'what-if: ecs-patterns defaults, max raised', result: simulateSpike(queueProcessingPatternScaling(prod.minCapacity, need), scenario) },
    {
      label: 'what-if: ecs-patterns steps only (no CPU policy), max raised',
      result: simulateSpike(queueProcessingPatternScaling(prod.minCapacity, need, { disableCpuBasedScaling: true }), scenario),
    },
  ];
  const table = summaryTable(runs);
  mkdirSync(options.outDir, { recursive: true });
  const svgPath = join(options.outDir, 'fleet-sim.svg');
  const highlight = [scenario.warmupSeconds, scenario.warmupSeconds + scenario.spikeSeconds] as const;
  writeFileSync(svgPath, timelineSvg(runs.map((r) => ({ title: r.label, timeline: r.result.timeline, highlight }))));
  const jsonPath = join(options.outDir, 'fleet-sim.json');
  writeFileSync(
    jsonPath,
    `${JSON.stringify(
      { scenario, meanTaskSeconds: meanTaskSeconds(scenario), runs: runs.map((r) => ({ label: r.label, spec: r.result.spec, summary: r.result.summary, decisions: r.result.decisions.length })) },
      null,
      2,
    )}\n`,
  );
  const mdPath = join(options.outDir, 'fleet-sim.md');
  writeFileSync(mdPath, `${table}\n\nPolicies read from: ${runs.map((r) => `\n- ${r.result.spec.source}`).join('')}\n`);
  return { runs, table, files: [svgPath, jsonPath, mdPath] };
}
