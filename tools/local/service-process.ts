import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { freePort, node22Binary } from './emulators';

/** A service running as deployed: its bundled entry point in its own Node 22 process. */
export interface ServiceProcess {
  readonly url: string;
  readonly pid: number;
  /** Resolves when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The JSON log lines it wrote so far. */
  readonly logs: Record<string, unknown>[];
  /** CPU time (user + system) the process has used so far, in ms (Linux /proc). */
  cpuMs(): number;
  /** Send a signal (SIGTERM to drain). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/** The services that run as their own process, as in the image. */
export type ServiceName = 'gateway' | 'intake';

/** A gateway process (the name its tests and benches know it by). */
export type GatewayProcess = ServiceProcess;

const bundled = new Map<ServiceName, Promise<string>>();

/** Bundle runtime/src/<service>/main.ts once per process, the way the image does. */
function bundle(service: ServiceName): Promise<string> {
  let entry = bundled.get(service);
  if (entry === undefined) {
    entry = (async () => {
      const outdir = join('/tmp', `openclaw-${service}-${process.pid}`);
      await build({ entryPoints: { [service]: `runtime/src/${service}/main.ts` }, outdir, bundle: true, platform: 'node', target: 'node22', format: 'cjs', logLevel: 'error', sourcemap: false });
      return join(outdir, `${service}.js`);
    })();
    bundled.set(service, entry);
  }
  return entry;
}

const CLOCK_TICKS_PER_S = 100;

/**
 * Start a gateway process with `env` (STAGE local unless given) on a free port and wait until it
 * answers /health. stdout is parsed as JSON log lines; EMF lines are kept too.
 */
export function startGatewayProcess(env: Readonly<Record<string, string>>): Promise<GatewayProcess> {
  return startServiceProcess('gateway', { TASKS_TABLE: 'unused-by-the-gateway', ...env });
}

/**
 * Start `service` (its bundled main) with `env` (STAGE local and the region unless given) on a free
 * port and wait until it answers /health. stdout is parsed as JSON log lines; EMF lines are kept too.
 */
export async function startServiceProcess(service: ServiceName, env: Readonly<Record<string, string>>): Promise<ServiceProcess> {
  const entry = await bundle(service);
  const port = await freePort();
  const child = spawn(node22Binary(), [entry], {
    env: { PATH: process.env['PATH'] ?? '', STAGE: 'local', LOG_LEVEL: 'info', AWS_REGION: 'us-east-1', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: Record<string, unknown>[] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not JSON: ignore.
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  for (;;) {
    if (exitedEarly) throw new Error(`${service} process exited before answering /health (port ${port})`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${service} process did not answer /health within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid ?? -1;
  return {
    url,
    pid,
    exited,
    logs,
    cpuMs: () => {
      // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name) are utime and stime in ticks.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
    },
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
    stop: async () => {
      if (exitedEarly) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
