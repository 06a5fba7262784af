import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goalsTable } from './spike-goals';
import { BLACK_FRIDAY, meanTaskSeconds, simulateSpike, type SimResult, type SpikeScenario } from './fleet-sim';
import { prodWorkerScaling } from './prod-template';
import { queueProcessingPatternScaling } from './reference-pattern';
import { timelineSvg } from './svg-plot';

export interface FleetSimulationOptions {
  /** Where fleet-sim.{json,svg,md} are written. */
  readonly outDir: string;
  /** @default BLACK_FRIDAY */
  readonly scenario?: SpikeScenario;
  /**
   * Where config/prod.json lives. @default config/ when it has prod.json, else the tests' fixture
   * (test/lib/fixtures/config: placeholder site settings, the repository's own stage shape).
   */
  readonly configDir?: string;
  /** Extra seeds the prod policy is run with, to show how often each goal holds. @default 10 */
  readonly robustnessSeeds?: number;
}

/** The prod config the simulation synthesizes: the site's own, or the tests' fixture on a fresh clone. */
export function simulationConfigDir(): { dir: string; note: string } {
  const root = join(__dirname, '..', '..');
  if (existsSync(join(root, 'config', 'prod.json'))) return { dir: join(root, 'config'), note: 'config/prod.json' };
  return { dir: join(root, 'test', 'lib', 'fixtures', 'config'), note: 'test/lib/fixtures/config/prod.json (no config/prod.json here)' };
}

export interface FleetSimulationRun {
  readonly label: string;
  readonly result: SimResult;
}

const minutes = (s: number | undefined) => (s === undefined ? 'never' : `${(s / 60).toFixed(1)} min`);

/** One Markdown table row per run. */
export function summaryTable(runs: readonly FleetSimulationRun[]): string {
  const head =
    '| policy | min–max | first scale-out | time to scale | peak workers | peak backlog | p95 queue wait | p95 completion | spike drained | back to baseline | worker-hours (ideal) | peak LLM RPM (limit) |';
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
      s.backToBaselineSeconds === undefined ? 'never' : minutes(s.backToBaselineSeconds),
      `${s.workerHours.toFixed(0)} (${s.idealWorkerHours.toFixed(0)})`,
      `${s.peakLlmRpm} (${scenario.providerRpm})`,
    ].join(' | ');
  });
  return [head, `|${'---|'.repeat(12)}`, ...rows.map((r) => `| ${r} |`)].join('\n');
}

/**
 * The Black-Friday spike against the prod template's worker scaling and against
 * QueueProcessingFargateService's default step scaling, at prod's min/max and, as a what-if, with
 * maxCapacity raised to what the spike needs so the policies rather than the cap decide.
 */
export function runFleetSimulation(options: FleetSimulationOptions): { runs: FleetSimulationRun[]; table: string; goals: string; files: string[] } {
  const scenario = options.scenario ?? BLACK_FRIDAY;
  const config = options.configDir === undefined ? simulationConfigDir() : { dir: options.configDir, note: options.configDir };
  const prod = prodWorkerScaling(config.dir);
  const need = Math.ceil((scenario.baselineWorkers * scenario.spikeFactor * 1.25) / 10) * 10;
  const runs: FleetSimulationRun[] = [
    { label: 'prod template: onset (10 s) + confirm (90 s) on queue demand, release + steady on arrivals', result: simulateSpike(prod, scenario) },
    { label: 'ecs-patterns QueueProcessingFargateService defaults', result: simulateSpike(queueProcessingPatternScaling(prod.minCapacity, prod.maxCapacity), scenario) },
    {
      label: 'ecs-patterns steps only (no CPU policy)',
      result: simulateSpike(queueProcessingPatternScaling(prod.minCapacity, prod.maxCapacity, { disableCpuBasedScaling: true }), scenario),
    },
    { label: `what-if: ${scenario.spikeFactor * 2}× spike, prod template (max ${prod.maxCapacity})`, result: simulateSpike(prod, { ...scenario, spikeFactor: scenario.spikeFactor * 2 }) },
    {
      label: `what-if: ${scenario.spikeFactor * 2}× spike, prod template with services.worker.maxTasks ${need * 2}`,
      result: simulateSpike(prodWorkerScaling(config.dir, need * 2), { ...scenario, spikeFactor: scenario.spikeFactor * 2 }),
    },
    {
      label: `what-if: ${scenario.spikeFactor * 2}× spike, ecs-patterns defaults, max raised to ${need * 2}`,
      result: simulateSpike(queueProcessingPatternScaling(prod.minCapacity, need * 2), { ...scenario, spikeFactor: scenario.spikeFactor * 2 }),
    },
  ];
  const table = summaryTable(runs);
  const seeds = Array.from({ length: options.robustnessSeeds ?? 10 }, (_, i) => simulateSpike(prod, { ...scenario, seed: scenario.seed + 1 + i }).summary);
  const main = (runs[0] as FleetSimulationRun).result.summary;
  const whatIf = (runs[4] as FleetSimulationRun).result.summary;
  const goals = [
    goalsTable(main, [main, ...seeds], `seeds ${scenario.seed}…${scenario.seed + seeds.length}; prod config from ${config.note}`),
    goalsTable(whatIf, [whatIf], `seed ${scenario.seed}`, `what-if: ${scenario.spikeFactor * 2}× spike, maxTasks ${need * 2} (same goals)`),
  ].join('\n\n');
  mkdirSync(options.outDir, { recursive: true });
  const svgPath = join(options.outDir, 'fleet-sim.svg');
  const highlight = [scenario.warmupSeconds, scenario.warmupSeconds + scenario.spikeSeconds] as const;
  writeFileSync(svgPath, timelineSvg(runs.map((r) => ({ title: r.label, timeline: r.result.timeline, highlight }))));
  const jsonPath = join(options.outDir, 'fleet-sim.json');
  writeFileSync(
    jsonPath,
    `${JSON.stringify(
      {
        scenario,
        meanTaskSeconds: meanTaskSeconds(scenario),
        runs: runs.map((r) => ({ label: r.label, spec: r.result.spec, summary: r.result.summary, decisions: r.result.decisions })),
        robustness: seeds,
      },
      null,
      2,
    )}\n`,
  );
  const mdPath = join(options.outDir, 'fleet-sim.md');
  writeFileSync(mdPath, `${goals}\n\n${table}\n\nPolicies read from: ${runs.map((r) => `\n- ${r.result.spec.source}`).join('')}\n`);
  return { runs, table, goals, files: [svgPath, jsonPath, mdPath] };
}
