import { DEFAULT_CANARY_THRESHOLDS } from '../../lib/config/canary';
import { defaultCanaryScenario, studyCanary } from './canary-sim';

// `npx tsx bench/sim/canary-main.ts [runs]`: the agent canary's rollback study (README "Agent canary").
const runs = Number(process.argv[2] ?? 200);
const scenario = defaultCanaryScenario(DEFAULT_CANARY_THRESHOLDS);
const study = studyCanary(scenario, runs);
const lines = [
  `agent canary, ${runs} seeded runs per case: ${scenario.arrivalsPerMinute} tasks/min, share ${scenario.sharePercent} %, ${scenario.durationMinutes} min, thresholds ${JSON.stringify(DEFAULT_CANARY_THRESHOLDS)}`,
  `bad candidate (70 % vs 96 % completion): rolled back in every run: ${study.bad.neverRolledBack === 0}; routing stopped after ${study.bad.meanStoppedAtMinutes.toFixed(1)} min on average, ${study.bad.maxStoppedAtMinutes.toFixed(1)} min at worst; tasks routed to it ${study.bad.meanRoutedToCandidate.toFixed(0)} on average, ${study.bad.maxRoutedToCandidate} at worst`,
  `good candidate (same as stable): false rollbacks ${study.good.falseRollbacks}/${runs} (${(100 * study.good.falseRollbackRate).toFixed(1)} %)`,
];
process.stdout.write(`${lines.join('\n')}\n`);
