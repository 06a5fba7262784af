/**
 * Runs a bundled service (dist/<role>.js) as a child process the way the image does, and waits
 * for its `<role>.started` log line to learn the bound port (services may be started on PORT=0).
 * Used by the bundle tests and the prod-like run, which wraps the command in a sandbox.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { OpenClawError } from '../../runtime/src/shared/errors';

export class ServiceProcessError extends OpenClawError {}

export interface ServiceProcessOptions {
  /** Which service; its start event is `<role>.started`. */
  readonly role: 'intake' | 'worker' | 'gateway';
  /** Program and arguments, e.g. [node, 'dist/gateway.js'] or a sandbox wrapper around them. */
  readonly command: readonly [string, ...string[]];
  /** The complete environment: nothing is inherited, as in a container. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** @default 20000 */
  readonly startTimeoutMs?: number;
  /**
   * Which process gets the stop signal. A sandbox wrapper (bwrap) does not forward signals, so
   * the prod-like run points this at the init (tini) inside it, as Docker signals the container's PID 1.
   * @default the spawned process
   */
  readonly stopTarget?: (child: ChildProcess) => number | undefined;
}

export interface ServiceProcess {
  readonly role: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** The last 16 KiB of stdout and stderr, for failure messages. */
  output(): string;
  /** Sends SIGTERM and resolves with the exit code (or signal) once the process is gone. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const [program, ...args] = options.command;
  const child = spawn(program, args, { env: { ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
  let out = '';
  let port: number | undefined;
  const event = `${options.role}.started`;
  let buffered = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    out = (out + text).slice(-16_384);
    buffered += text;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (port !== undefined || !line.includes(event)) continue;
      try {
        const parsed = JSON.parse(line) as { event?: string; port?: unknown };
        if (parsed.event === event && typeof parsed.port === 'number') port = parsed.port;
      } catch {
        // not a JSON log line
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  while (port === undefined) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new ServiceProcessError('service_exited', `${options.role} exited (${child.exitCode ?? child.signalCode}) before logging ${event}:\n${out}`, { role: options.role });
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new ServiceProcessError('service_timeout', `${options.role} did not log ${event} within ${options.startTimeoutMs ?? 20_000} ms:\n${out}`, { role: options.role });
    }
    const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    if (failed !== undefined) throw new ServiceProcessError('spawn_failed', `Could not start ${program}: ${failed.message}`, { role: options.role }, { cause: failed });
  }
  const bound = port;
  return {
    role: options.role,
    port: bound,
    child,
    output: () => out,
    stop: async (graceMs = 10_000) => {
      const started = Date.now();
      const done = exited(child);
      const target = options.stopTarget?.(child);
      if (target === undefined) child.kill('SIGTERM');
      else process.kill(target, 'SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await done;
      clearTimeout(timer);
      return { ...result, ms: Date.now() - started };
    },
  };
}
