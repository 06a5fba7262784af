/**
 * The end-to-end check a deployed (or prod-like) system must pass: the intake is healthy, accepts
 * a task, and the task reaches SUCCEEDED through queue, worker, gateway and model. Shared by the
 * prod-like run and the release workflow's smoke test so both prove the same thing.
 *
 *   SMOKE_API_KEY=... npx tsx tools/delivery/task-flow.ts https://api.dev.example.com
 */
import { OpenClawError } from '../../runtime/src/shared/errors';
import { TERMINAL_STATUSES, type TaskStatus } from '../../runtime/src/shared/task-model';

export class TaskFlowError extends OpenClawError {}

export interface TaskFlowOptions {
  /** Intake base URL, e.g. http://127.0.0.1:8080. */
  readonly baseUrl: string;
  /** Bearer token for the intake. Never logged. */
  readonly apiKey: string;
  /** @default a two-tool-call prompt the stub model scripts deterministically */
  readonly prompt?: string;
  /** Give up after this long. @default 120000 */
  readonly timeoutMs?: number;
  /** @default 500 */
  readonly pollMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Progress lines (never contain the key). @default no output */
  readonly log?: (line: string) => void;
}

export interface TaskFlowResult {
  readonly taskId: string;
  readonly status: TaskStatus;
  /** From submit to the terminal status. */
  readonly elapsedMs: number;
  readonly polls: number;
}

async function json(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { raw: text.slice(0, 200) };
  }
}

export async function runTaskFlow(options: TaskFlowOptions): Promise<TaskFlowResult> {
  const doFetch = options.fetch ?? fetch;
  const base = options.baseUrl.replace(/\/+$/, '');
  const log = options.log ?? (() => undefined);
  const headers = { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' };
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);

  const health = await doFetch(`${base}/health`).catch((err: unknown) => {
    throw new TaskFlowError('intake_unreachable', `GET ${base}/health failed: ${err instanceof Error ? err.message : String(err)}. Is the intake running and is the URL right?`, { baseUrl: base }, { cause: err });
  });
  if (!health.ok) throw new TaskFlowError('intake_unhealthy', `GET ${base}/health answered ${health.status}`, { baseUrl: base, status: health.status });

  const started = Date.now();
  const submit = await doFetch(`${base}/v1/tasks`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ prompt: options.prompt ?? 'Prod-like smoke check: multiply two numbers and record a note [tools:2]', metadata: { source: 'task-flow' } }),
  });
  const accepted = await json(submit);
  if (submit.status !== 202 || typeof accepted['taskId'] !== 'string') {
    throw new TaskFlowError('submit_rejected', `POST ${base}/v1/tasks answered ${submit.status}: ${JSON.stringify(accepted).slice(0, 300)}`, { baseUrl: base, status: submit.status });
  }
  const taskId = accepted['taskId'];
  log(`submitted task ${taskId}`);

  let polls = 0;
  let last: Record<string, unknown> = accepted;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
    polls += 1;
    const res = await doFetch(`${base}/v1/tasks/${taskId}`, { headers });
    last = await json(res);
    if (!res.ok) throw new TaskFlowError('status_failed', `GET /v1/tasks/${taskId} answered ${res.status}: ${JSON.stringify(last).slice(0, 300)}`, { taskId, status: res.status });
    const status = last['status'] as TaskStatus;
    if (TERMINAL_STATUSES.has(status)) {
      if (status !== 'SUCCEEDED') {
        throw new TaskFlowError('task_not_succeeded', `Task ${taskId} ended ${status}: ${JSON.stringify(last['error'] ?? last).slice(0, 300)}`, { taskId, status });
      }
      log(`task ${taskId} SUCCEEDED after ${polls} polls`);
      return { taskId, status, elapsedMs: Date.now() - started, polls };
    }
  }
  throw new TaskFlowError('task_timeout', `Task ${taskId} still ${String(last['status'])} after ${options.timeoutMs ?? 120_000} ms: check the worker and gateway logs`, { taskId, status: last['status'] });
}

async function main(argv: string[]): Promise<number> {
  const baseUrl = argv[0];
  const apiKey = process.env['SMOKE_API_KEY'];
  if (baseUrl === undefined || !URL.canParse(baseUrl) || apiKey === undefined || apiKey === '') {
    process.stderr.write('usage: SMOKE_API_KEY=<intake key> npx tsx tools/delivery/task-flow.ts <intake base URL>\n');
    return 2;
  }
  try {
    const result = await runTaskFlow({ baseUrl, apiKey, log: (l) => process.stdout.write(`${l}\n`) });
    process.stdout.write(`${JSON.stringify({ event: 'smoke.passed', ...result })}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`smoke failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
