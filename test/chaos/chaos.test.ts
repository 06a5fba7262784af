import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { startStubModel, type StubModel } from '../../tools/local/stub-model';
import type { RunningServer } from '../../runtime/src/shared/http';
import type { TaskRecord } from '../../runtime/src/shared/task-model';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { CheckpointLog } from '../../runtime/src/worker/checkpoint-log';
import { createTestAws, eventually, type TestAws } from '../support/aws';
import { allNoteInvocations, llmStepToolResults } from '../runtime/worker/harness';
import { bundleWorker, spawnWorker, startUnlimitedGateway, workerEnv, type WorkerProcess } from './worker-process';

/** CHAOS_TASKS lowers the count for a quick local look; the suite runs 200. */
const TASKS = Number(process.env['CHAOS_TASKS'] ?? 200);
const TOOLS_PER_TASK = 4;
const WORKERS = 4;
/** Tasks in flight per worker process; a kill interrupts all of them at once. */
const CONCURRENCY = 4;

/**
 * 200 tasks of four tool steps each (two of them side-effecting record_note calls) run by four
 * real worker processes while a random one is SIGKILLed every 3-5 s and restarted. Afterwards:
 * every task SUCCEEDED, every record_note key ran exactly once, and no LLM step was asked of the
 * model again after its checkpoint was written.
 */
describe('chaos: SIGKILLed worker processes against the emulators, the gateway and the stub', () => {
  let aws: TestAws;
  let stub: StubModel;
  let gateway: RunningServer;
  let bundle: string;
  const procs = new Map<number, WorkerProcess>();
  const finished: WorkerProcess[] = [];

  beforeAll(async () => {
    [aws, stub, bundle] = await Promise.all([
      createTestAws({ visibilityTimeoutSeconds: 10, maxReceiveCount: 20 }),
      startStubModel({ latencyMs: 15 }),
      bundleWorker(),
    ]);
    gateway = await startUnlimitedGateway(stub.url, 'chaos-stub');
  });

  afterAll(async () => {
    for (const p of procs.values()) p.child.kill('SIGKILL');
    await Promise.all([...procs.values()].map((p) => p.exited));
    await gateway?.close();
    await stub?.close();
    aws?.destroy();
  });

  it('GIVEN 200 multi-step tasks and a worker killed every few seconds WHEN they all finish THEN nothing is lost and nothing is done twice', async () => {
    const env = {
      ...workerEnv(aws, gateway.url),
      MAX_RECEIVE_COUNT: '20',
      WORKER_CONCURRENCY: String(CONCURRENCY),
    };
    let generation = 0;
    const start = (slot: number) => {
      generation += 1;
      procs.set(slot, spawnWorker(bundle, `chaos-${slot}-${generation}`, env));
    };
    for (let slot = 0; slot < WORKERS; slot += 1) start(slot);

    const store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const prompts = new Map<string, string>();
    const now = new Date().toISOString();
    for (let i = 0; i < TASKS; i += 1) {
      const taskId = randomUUID();
      const prompt = `chaos task ${i} ${taskId} [tools:${TOOLS_PER_TASK}]`;
      prompts.set(taskId, prompt);
      await store.create({ taskId, status: 'QUEUED', priority: i % 5 === 0 ? 'high' : 'normal', prompt, createdAt: now, updatedAt: now });
    }
    const ids = [...prompts.keys()];
    for (let i = 0; i < ids.length; i += 10) {
      const batch = ids.slice(i, i + 10);
      for (const priority of ['high', 'normal'] as const) {
        const entries = batch
          .filter((id) => (ids.indexOf(id) % 5 === 0) === (priority === 'high'))
          .map((id) => ({ Id: id.slice(0, 8), MessageBody: JSON.stringify({ taskId: id }) }));
        if (entries.length > 0) await aws.sqs.send(new SendMessageBatchCommand({ QueueUrl: aws.resources.queues[priority], Entries: entries }));
      }
    }

    // The chaos monkey: SIGKILL a random worker every 3-5 s and start a replacement.
    let kills = 0;
    let monkeyOn = true;
    const monkey = (async () => {
      while (monkeyOn) {
        await new Promise((r) => setTimeout(r, 3000 + Math.random() * 2000));
        if (!monkeyOn) break;
        const slot = Math.floor(Math.random() * WORKERS);
        const victim = procs.get(slot);
        if (victim === undefined) continue;
        victim.child.kill('SIGKILL');
        await victim.exited;
        finished.push(victim);
        kills += 1;
        start(slot);
      }
    })();

    const started = Date.now();
    let lastReport = started;
    // Only unfinished tasks are read again, so the watcher adds little load to DynamoDB Local.
    const final = new Map<string, TaskRecord>();
    const statuses = await eventually(
      async () => {
        for (const id of ids.filter((i) => !final.has(i))) {
          const t = await store.get(id);
          if (t !== undefined && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(t.status)) final.set(id, t);
        }
        const all = ids.map((id) => final.get(id));
        const done = all.filter((t) => t !== undefined);
        if (Date.now() - lastReport > 15_000) {
          lastReport = Date.now();
          process.stdout.write(`chaos progress: ${done.length}/${ids.length} finished after ${Math.round((lastReport - started) / 1000)} s, ${kills} kills\n`);
        }
        return done.length === ids.length ? all : undefined;
      },
      'all chaos tasks to finish',
      // About 150 s here with other suites running; the margin is for a busier CI machine.
      230_000,
      2000,
    ).finally(async () => {
      monkeyOn = false;
      await monkey;
    }).catch((err: unknown) => {
      // Show what the workers were doing, so a timeout explains itself.
      for (const p of procs.values()) process.stdout.write(`worker ${p.id} last lines:\n${p.lines.slice(-8).join('\n')}\n`);
      throw err;
    });
    const elapsedS = (Date.now() - started) / 1000;

    // Nothing lost.
    const notSucceeded = statuses.filter((t) => t?.status !== 'SUCCEEDED').map((t) => `${t?.taskId}: ${t?.status} ${JSON.stringify(t?.error)}`);
    expect(notSucceeded).toEqual([]);

    // No side effect twice: every record_note key in the table was invoked exactly once,
    // and every record_note result in the logs has its key.
    const log = new CheckpointLog({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const notes = await allNoteInvocations(aws, aws.resources.tasksTable);
    const twice = [...notes.entries()].filter(([, n]) => n !== 1);
    let noteSteps = 0;
    let repeatedAfterCheckpoint = 0;
    let repeatedBeforeCheckpoint = 0;
    const llmCalls = stub.calls.filter((c) => c.prompt !== 'ping');
    const callsByPrompt = new Map<string, typeof llmCalls>();
    for (const c of llmCalls) callsByPrompt.set(c.prompt, [...(callsByPrompt.get(c.prompt) ?? []), c]);
    const missingNotes: string[] = [];
    for (const taskId of ids) {
      const steps = await log.list(taskId);
      for (const s of steps) {
        if (s.kind !== 'tool' || s.payload['name'] !== 'record_note') continue;
        noteSteps += 1;
        if (notes.get(`${taskId}/${String(s.payload['toolUseId'])}`) !== 1) missingNotes.push(`${taskId}/${String(s.payload['toolUseId'])}`);
      }
      // No LLM step asked again once checkpointed (same prompt, same number of tool results).
      const calls = callsByPrompt.get(prompts.get(taskId) ?? '') ?? [];
      for (const step of llmStepToolResults(steps)) {
        const same = calls.filter((c) => c.toolResults === step.toolResults);
        repeatedAfterCheckpoint += same.filter((c) => c.at > step.createdAt).length;
        repeatedBeforeCheckpoint += Math.max(0, same.filter((c) => c.at <= step.createdAt).length - 1);
      }
    }
    const sum = (key: string) => [...finished, ...procs.values()].reduce((n, p) => n + (p.events.get(key) ?? 0), 0);
    const figures = {
      tasks: ids.length,
      succeeded: statuses.filter((t) => t?.status === 'SUCCEEDED').length,
      workers: WORKERS,
      concurrencyPerWorker: CONCURRENCY,
      kills,
      elapsedS: Math.round(elapsedS),
      llmCalls: llmCalls.length,
      llmStepsCheckpointed: ids.length * (TOOLS_PER_TASK + 1),
      llmCallsRepeatedAfterCheckpoint: repeatedAfterCheckpoint,
      llmCallsRedoneAfterKillBeforeCheckpoint: repeatedBeforeCheckpoint,
      recordNoteSteps: noteSteps,
      recordNoteKeys: notes.size,
      recordNoteKeysInvokedTwice: twice.length,
      resumedTasks: sum('task.resumed'),
      reconciledIntents: sum('tool.reconciled'),
      outcomeUnknown: sum('tool.outcome_unknown'),
      fencedWrites: sum('task.fenced'),
      leasedElsewhere: sum('task.leased_elsewhere'),
      handedBackForWeather: sum('task.provider_weather'),
      taskErrors: sum('task.error'),
      heartbeatsFailed: sum('heartbeat.failed'),
    };
    process.stdout.write(`chaos figures: ${JSON.stringify(figures)}\n`);
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(twice).toEqual([]);
    expect(missingNotes).toEqual([]);
    expect(noteSteps).toBe(TASKS * (TOOLS_PER_TASK / 2));
    expect(repeatedAfterCheckpoint).toBe(0);
    expect(figures.outcomeUnknown).toBe(0);
  }, 280_000);
});
