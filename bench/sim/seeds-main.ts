import { BLACK_FRIDAY, simulateSpike } from './fleet-sim';
import { prodWorkerScaling } from './prod-template';
import { SPIKE_GOALS, goalsTable } from './spike-goals';
import { simulationConfigDir } from './spike-report';

// `npx tsx bench/sim/seeds-main.ts [seeds]`: the prod template's 8× spike on more seeds than the
// report runs (default 60), one line per seed (. met, X missed, in SPIKE_GOALS order) and the
// goals table over all of them. Pure computation: machine load does not change the figures.
const count = Number(process.argv[2] ?? 60);
const config = simulationConfigDir();
const spec = prodWorkerScaling(config.dir);
const runs = Array.from({ length: count }, (_, i) => simulateSpike(spec, { ...BLACK_FRIDAY, seed: BLACK_FRIDAY.seed + i }).summary);
runs.forEach((s, i) => {
  const flags = SPIKE_GOALS.map((g) => (g.met(s) ? '.' : 'X')).join('');
  process.stdout.write(
    `seed ${BLACK_FRIDAY.seed + i} ${flags} to-need ${s.timeToScaleSeconds ?? 'never'} s, p95 wait ${s.p95WaitSeconds.toFixed(0)} s, peak ${s.peakRunning}, steady ${(s.steadyWithinBand * 100).toFixed(1)} % ${s.steadyReversalsPerHour.toFixed(2)}/h, back ${s.backToBaselineSeconds ?? 'never'} s, worker-hours ${s.workerHours.toFixed(0)}/${s.idealWorkerHours.toFixed(0)}\n`,
  );
});
const first = runs[0];
if (first !== undefined) process.stdout.write(`\n${goalsTable(first, runs, `seeds ${BLACK_FRIDAY.seed}…${BLACK_FRIDAY.seed + count - 1}; prod config from ${config.note}`)}\n`);
