import { MutableCanaryShare } from '../../runtime/src/intake/canary-share';
import { routeTask } from '../../runtime/src/shared/agent-version';
import { InMemoryMetrics } from '../../runtime/src/shared/metrics';
import { silentLogger } from '../../runtime/src/shared/logger';
import { PromptRegistry } from '../../runtime/src/shared/prompt-registry';
import { DEFAULT_CANARY_THRESHOLDS } from '../../lib/config/canary';
import { LocalCanaryEvaluator } from '../../tools/local/canary-evaluator';
import type { LocalSystem } from '../../tools/local/system';
import { eventually } from '../support/aws';
import { startTestSystem } from '../support/system';

describe('agent canary on one machine (npm start with CANARY_SHARE)', () => {
  let system: LocalSystem;
  const share = new MutableCanaryShare(50);
  const evaluator = new LocalCanaryEvaluator({ share, logger: silentLogger, thresholds: { ...DEFAULT_CANARY_THRESHOLDS, minTasks: 10, windowMinutes: 5 } });
  const stablePrompts = new PromptRegistry({ system: 'You are the stable agent.' });
  const candidatePrompts = new PromptRegistry({ system: 'You are the candidate agent, with a new prompt.' });

  beforeAll(async () => {
    system = await startTestSystem('canary', {
      metrics: evaluator.tap(new InMemoryMetrics()),
      prompts: stablePrompts,
      canary: { share, workers: 1, prompts: candidatePrompts },
    });
  });
  afterAll(async () => system.stop());

  const submit = async (prompt: string): Promise<string> => {
    const res = await fetch(`${system.intakeUrl}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { taskId: string }).taskId;
  };
  const view = async (id: string) => (await (await fetch(`${system.intakeUrl}/v1/tasks/${id}`, { headers: { authorization: `Bearer ${system.apiKey}` } })).json()) as { status: string; agentVersion?: string; promptVersion?: string };

  it('GIVEN a share of 50 WHEN tasks run THEN each runs on the version its ID picked, with that version\'s prompts, and the evaluator sees both', async () => {
    const ids = await Promise.all(Array.from({ length: 24 }, (_, i) => submit(`canary task ${i} [tools:1]`)));
    const done = await Promise.all(ids.map((id) => eventually(async () => { const v = await view(id); return v.status === 'SUCCEEDED' ? v : undefined; }, `task ${id}`, 60_000, 100)));
    done.forEach((v, i) => {
      const version = routeTask(ids[i] as string, 50);
      expect(v.agentVersion).toBe(version);
      expect(v.promptVersion).toBe(version === 'candidate' ? candidatePrompts.version : stablePrompts.version);
    });
    const verdict = await evaluator.evaluate();
    // Both healthy (same stub model): either not enough of one version yet, or healthy; never a rollback.
    expect(verdict.decision).not.toBe('rollback');
    expect(await share.current()).toBe(50);
  }, 120_000);

  it('GIVEN the candidate regresses WHEN the evaluator decides THEN the share drops to 0 and new tasks all go to stable', async () => {
    // The candidate's failures as its workers would report them (the stub model cannot fail a task by prompt);
    // 40 each, so the regression is significant whatever the split of the real tasks above.
    const worker = evaluator.tap(new InMemoryMetrics()).with({ AgentVersion: 'candidate' });
    for (let i = 0; i < 40; i++) worker.emit([{ name: 'TasksSucceeded', value: 0 }, { name: 'TasksFailed', value: 1 }]);
    const stable = evaluator.tap(new InMemoryMetrics()).with({ AgentVersion: 'stable' });
    for (let i = 0; i < 40; i++) stable.emit([{ name: 'TasksSucceeded', value: 1 }, { name: 'TasksFailed', value: 0 }]);
    expect((await evaluator.evaluate()).decision).toBe('rollback');
    expect(await share.current()).toBe(0);
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => submit(`after rollback ${i}`)));
    for (const id of ids) expect((await view(id)).agentVersion).toBe('stable');
  }, 60_000);
});
