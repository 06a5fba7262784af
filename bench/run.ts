import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { runWorkerFleetBench, type WorkerFleetResult } from './fleet/worker-fleet';
import { runGatewayOverloadBench } from './gateway/overload';
import { runProcessOverheadBench } from './gateway/process-overhead';
import { runIntakeBench, type IntakeBenchResult } from './intake/intake-bench';
import { runRateLimitBench, type RateLimitResult } from './ratelimit/rate-limit';
import { fmt, renderTable, type BenchRow } from './report/table';
import { runFleetSimulation } from './sim/spike-report';
import { benchEmulators } from './support/emulators';

/**
 * `npm run bench`: every benchmark once, side by side in one run, then one table. Results go to
 * bench/results/ (the latest run, committed when small).
 */
const RESULTS = join(__dirname, 'results');

function intakeRows(r: IntakeBenchResult): BenchRow[] {
  const label = `intake accept (POST /v1/tasks → 202), ${r.total} requests, ${r.concurrency} in flight`;
  return [
    {
      bench: `${label}: p50`,
      measured: `${fmt(r.acceptMs.p50, 1)} ms`,
      baseline: `bare SendMessage ${fmt(r.sendMessageMs.p50, 1)} ms`,
      ratio: `${fmt(r.ratio.p50)}×`,
      note: `vs PutItem + SendMessage: ${fmt(r.ratio.p50VsPutPlusSend)}×; ${fmt(r.acceptPerSecond, 0)} accepts/s, ${fmt(r.acceptsPerCpuSecond, 0)} per CPU-second of the intake (${r.intake})`,
    },
    {
      bench: `${label}: p99`,
      measured: `${fmt(r.acceptMs.p99, 1)} ms`,
      baseline: `bare SendMessage ${fmt(r.sendMessageMs.p99, 1)} ms`,
      ratio: `${fmt(r.ratio.p99)}×`,
      note: `goal ≤ ${r.goal.p99RatioAtMost}×: ${r.goal.met ? 'met' : 'NOT met'}; group commit on (the default)${
        r.requestsPerAccept !== undefined ? `: ${fmt(r.requestsPerAccept.dynamodb, 3)} DynamoDB and ${fmt(r.requestsPerAccept.sqs, 3)} SQS requests per accept` : ''
      }; exactly once: ${r.exactlyOnce.ok ? 'yes' : 'NO'} (both intakes: ${r.exactlyOnce.rowsInTable} rows, ${r.exactlyOnce.messagesInQueue - r.exactlyOnce.orphanMessages} queued, ${r.exactlyOnce.orphanMessages} orphan messages of refused submissions)`,
    },
    ...(r.unbatched !== undefined
      ? [
          {
            bench: `${label}: p99 with INTAKE_BATCH_WRITES=off (same run, phases alternating)`,
            measured: `${fmt(r.unbatched.acceptMs.p99, 1)} ms`,
            baseline: `bare SendMessage ${fmt(r.sendMessageMs.p99, 1)} ms`,
            ratio: `${fmt(r.unbatched.acceptMs.p99 / Math.max(r.sendMessageMs.p99, 0.001))}×`,
            note: `one PutItem and one SendMessage per task${
              r.unbatched.requestsPerAccept !== undefined ? ` (${fmt(r.unbatched.requestsPerAccept.dynamodb, 3)} DynamoDB, ${fmt(r.unbatched.requestsPerAccept.sqs, 3)} SQS requests per accept)` : ''
            }; p50 ${fmt(r.unbatched.acceptMs.p50, 1)} ms; ${fmt(r.unbatched.acceptsPerCpuSecond, 0)} accepts per CPU-second vs ${fmt(r.acceptsPerCpuSecond, 0)} batched`,
          },
        ]
      : []),
    {
      bench: `${label}: p99 vs the floor (PutItem ‖ SendMessage, no intake)`,
      measured: `${fmt(r.acceptMs.p99, 1)} ms`,
      baseline: `floor ${fmt(r.floorMs.p99, 1)} ms (p50 ${fmt(r.floorMs.p50, 1)})`,
      ratio: `${fmt(r.ratio.p99VsFloor)}×`,
      note: `the floor alone is ${fmt(r.floorMs.p99 / Math.max(r.sendMessageMs.p99, 0.001))}× bare SendMessage at p99; intake in its ${r.intake}; CPU ms per accept: intake ${fmt(r.cpuMsPer.accept.intake, 2)}, driver ${fmt(r.cpuMsPer.accept.driver, 2)}${
        r.cpuMsPer.emulatorsRead
          ? `, DynamoDB Local ${fmt(r.cpuMsPer.accept.dynamodbLocal, 2)}, fauxqs ${fmt(r.cpuMsPer.accept.fauxqs, 2)} (per floor pair: driver ${fmt(r.cpuMsPer.floor.driver, 2)}, DynamoDB Local ${fmt(r.cpuMsPer.floor.dynamodbLocal, 2)}, fauxqs ${fmt(r.cpuMsPer.floor.fauxqs, 2)})`
          : ` (per floor pair: driver ${fmt(r.cpuMsPer.floor.driver, 2)}; emulators given by endpoint, their CPU not read)`
      }`,
    },
  ];
}

function fleetRows(r: WorkerFleetResult, apart: WorkerFleetResult): BenchRow[] {
  const phases = (x: WorkerFleetResult) =>
    `per task ${fmt(x.phases.cycleMs, 0)} ms of one worker, ${fmt(x.phases.overheadMs, 0)} ms not the model (claim + load ${fmt(x.phases.claimAndLoadMs, 0)} ms, run beyond the model ${fmt(x.phases.runOverheadMs, 0)} ms); storage ${fmt(x.meanStorageCallMs, 1)} ms/call`;
  return [
    {
      bench: `worker fleet: ${r.workers} workers in ${r.workersIn}, ${r.tasks} tasks × ${r.llmCallsPerTask} LLM calls of ${r.modelLatencyMs} ms (after ${r.warmupTasks} warm-up tasks)`,
      measured: `${fmt(r.tasksPerSecond)} tasks/s`,
      baseline: `ideal ${fmt(r.idealTasksPerSecond)} tasks/s`,
      ratio: `${fmt(r.efficiency * 100, 1)}% efficiency`,
      note: `goal ≥ 95%: ${r.efficiency >= 0.95 ? 'met' : 'NOT met'}; ${phases(r)}; warm-up rounds ${r.warmupRoundsMs.map((ms) => fmt(ms / 1000, 1)).join(', ')} s (${r.warmupSteady ? 'steady' : 'NOT steady'}); the same fleet with its workers in ${apart.workersIn}: ${fmt(apart.efficiency * 100, 1)}%, ${phases(apart)}`,
    },
    {
      bench: `storage round-trips per step (${r.stepsPerTask} steps/task)`,
      measured: `${fmt(r.storageCallsPerStep)} calls/step`,
      baseline: `minimum ${fmt(r.minimumCallsPerStep)} calls/step`,
      ratio: `${fmt(r.storageCallsPerStep / r.minimumCallsPerStep)}×`,
      note: Object.entries(r.callsByCommand)
        .map(([k, v]) => `${k.replace(/Command$/, '')} ${fmt(v / r.tasks, 1)}`)
        .join(', '),
    },
  ];
}

function rateLimitRows(r: RateLimitResult): BenchRow[] {
  const label = `provider limit ${r.rpm} RPM, ${r.overload}× offered (${r.callers} callers, SDK retries)`;
  return [
    {
      bench: `rate-limit utilisation: ${label}`,
      measured: `gateway ${fmt(r.gateway.utilisation * 100, 0)}%`,
      baseline: `direct ${fmt(r.direct.utilisation * 100, 0)}%`,
      ratio: `${fmt(r.gateway.utilisation / r.direct.utilisation)}×`,
      note: `caller failures after retries: gateway ${r.gateway.callerFailures}, direct ${r.direct.callerFailures}`,
    },
    {
      bench: `upstream 429s in ${r.windowMs / 1000} s: ${label}`,
      measured: `gateway ${r.gateway.upstream429s} of ${r.gateway.upstreamRequests}`,
      baseline: `direct ${r.direct.upstream429s} of ${r.direct.upstreamRequests}`,
      ratio: `${fmt(r.gateway.upstream429s / Math.max(1, r.gateway.upstreamRequests), 3)} vs ${fmt(r.direct.upstream429s / Math.max(1, r.direct.upstreamRequests), 3)} per request`,
    },
  ];
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}, load average at start ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
  process.stdout.write(`openclaw-deploy benchmarks on ${machine}\n`);
  const rows: BenchRow[] = [];
  const emulators = await benchEmulators({
    ...(process.env['AWS_ENDPOINT_URL_DYNAMODB'] !== undefined ? { dynamoEndpoint: process.env['AWS_ENDPOINT_URL_DYNAMODB'] } : {}),
    ...(process.env['AWS_ENDPOINT_URL_SQS'] !== undefined ? { sqsEndpoint: process.env['AWS_ENDPOINT_URL_SQS'] } : {}),
  });
  try {
    const shared = { dynamoEndpoint: emulators.dynamoEndpoint, sqsEndpoint: emulators.sqsEndpoint };
    process.stdout.write('running gateway bench...\n');
    rows.push(...(await runProcessOverheadBench({ dynamoEndpoint: emulators.dynamoEndpoint })).rows);
    process.stdout.write('running gateway overload bench (70 s)...\n');
    rows.push(...(await runGatewayOverloadBench({ dynamoEndpoint: emulators.dynamoEndpoint })));
    process.stdout.write('running intake bench...\n');
    rows.push(...intakeRows(await runIntakeBench({ ...shared, emulatorPids: emulators.pids })));
    process.stdout.write('running worker fleet bench...\n');
    const fleet = { ...shared, workers: 8, tasks: 64, modelLatencyMs: 500 };
    const asDeployed = await runWorkerFleetBench({ ...fleet, processes: true });
    rows.push(...fleetRows(asDeployed, await runWorkerFleetBench({ ...fleet, processes: false })));
    process.stdout.write('running rate-limit bench...\n');
    rows.push(...rateLimitRows(await runRateLimitBench()));
  } finally {
    await emulators.stop();
  }
  process.stdout.write('running fleet simulation...\n');
  const sim = runFleetSimulation({ outDir: RESULTS });
  const table = renderTable(rows);
  const report = [
    `# Benchmark run ${new Date().toISOString()}`,
    '',
    `Machine: ${machine}; load average at end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; took ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    table,
    '',
    '## Fleet under an 8× spike (simulated; plot: fleet-sim.svg)',
    '',
    sim.goals,
    '',
    sim.table,
    '',
  ].join('\n');
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'latest.md'), report);
  process.stdout.write(`\n${report}\nwritten: ${[join(RESULTS, 'latest.md'), ...sim.files].join(', ')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
