import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { freePort, node22Binary } from './emulators';

/** A gateway running as deployed: the bundled entry point in its own Node 22 process. */
export interface GatewayProcess {
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

let bundled: Promise<string> | undefined;

/** Bundle runtime/src/gateway/main.ts once per process, the way the image does. */
function bundle(): Promise<string> {
  bundled ??= (async () => {
    const outdir = join('/tmp', `openclaw-gateway-${process.pid}`);
    await build({ entryPoints: { gateway: 'runtime/src/gateway/main.ts' }, outdir, bundle: true, platform: 'node', target: 'node22', format: 'cjs', logLevel: 'error', sourcemap: false });
    return join(outdir, 'gateway.js');
  })();
  return bundled;
}

const CLOCK_TICKS_PER_S = 100;

/**
 * Start a gateway process with `env` (STAGE local unless given) on a free port and wait until it
 * answers /health. stdout is parsed as JSON log lines; EMF lines are kept too.
 */
export async function startGatewayProcess(env: Readonly<Record<string, string>>): Promise<GatewayProcess> {
  const entry = await bundle();
  const port = await freePort();
  const child = spawn(node22Binary(), [entry], {
    env: { PATH: process.env['PATH'] ?? '', STAGE: 'local', LOG_LEVEL: 'info', AWS_REGION: 'us-east-1', TASKS_TABLE: 'unused-by-the-gateway', ...env, PORT: String(port) },
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
    if (exitedEarly) throw new Error(`gateway process exited before answering /health (port ${port})`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('gateway process did not answer /health within 30 s');
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
