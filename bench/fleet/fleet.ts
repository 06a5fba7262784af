import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { node22Binary } from '../../tools/local/emulators';
import { CallCounter } from '../support/call-counter';
import { memberWorker, type FleetMemberSetup, type FromWorkerProcess, type MemberEvent, type MemberWorker, type ToWorkerProcess } from './fleet-member';

export interface FleetHooks {
  onEvent(member: number, e: MemberEvent): void;
  onDelete(): void;
}

/** N workers the bench starts and stops together; each round builds fresh workers (fresh state, warm code). */
export interface Fleet {
  /** Build a fresh worker per member, named `${prefix}-1` … `${prefix}-N`. */
  prepare(prefix: string): Promise<void>;
  start(): Promise<void>;
  /** Stop every worker; the calls their clients made, and their CPU time if they ran in processes of their own. */
  stop(): Promise<{ readonly calls: CallCounter; readonly cpuMs: number | undefined }>;
  /** Why a worker can no longer run (its process exited or reported an error), if one cannot: the bench stops waiting at once. */
  failure(): Error | undefined;
  /** The worker processes' IDs (none when the workers run in this process). */
  readonly pids: readonly number[];
  close(): Promise<void>;
}

/** Every worker on this process's event loop (the bench's process, which also runs the stub model and the intake). */
export function inProcessFleet(size: number, setup: FleetMemberSetup, hooks: FleetHooks): Fleet {
  let workers: MemberWorker[] = [];
  return {
    prepare: async (prefix) => {
      workers = Array.from({ length: size }, (_, i) => memberWorker(setup, `${prefix}-${i + 1}`, { onEvent: (e) => hooks.onEvent(i, e), onDelete: () => hooks.onDelete() }));
      await Promise.resolve();
    },
    start: async () => void (await Promise.all(workers.map((w) => w.start()))),
    stop: async () => {
      const calls = new CallCounter();
      for (const totals of await Promise.all(workers.map((w) => w.stop()))) calls.add(totals);
      workers = [];
      return { calls, cpuMs: undefined };
    },
    failure: () => undefined,
    pids: [],
    close: async () => void (await Promise.all(workers.map((w) => w.stop()))),
  };
}

let bundled: Promise<string> | undefined;

/** Bundle the worker process entry once per bench process, as the image bundles its services. */
function bundle(): Promise<string> {
  bundled ??= (async () => {
    const outdir = join('/tmp', `openclaw-fleet-worker-${process.pid}`);
    await build({ entryPoints: { 'worker-process': join(__dirname, 'worker-process.ts') }, outdir, bundle: true, platform: 'node', target: 'node22', format: 'cjs', logLevel: 'error' });
    return join(outdir, 'worker-process.js');
  })();
  return bundled;
}

interface Member {
  readonly child: ChildProcess;
  /** Resolves with the next reply of `type` (one request in flight per member at a time). */
  next<T extends FromWorkerProcess['type']>(type: T): Promise<Extract<FromWorkerProcess, { type: T }>>;
  send(m: ToWorkerProcess): void;
}

/**
 * Every worker in its own Node 22 process, as each worker is its own ECS task when deployed: its
 * own event loop and heap, so one worker's CPU bursts do not delay another's timers and sockets.
 */
export async function processFleet(size: number, setup: FleetMemberSetup, hooks: FleetHooks): Promise<Fleet> {
  const entry = await bundle();
  let closing = false;
  let failed: Error | undefined;
  const members: Member[] = Array.from({ length: size }, (_, i) => {
    const child = spawn(node22Binary(), [entry], { env: { PATH: process.env['PATH'] ?? '', AWS_REGION: 'us-east-1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const waiting = new Map<string, { resolve: (m: FromWorkerProcess) => void; reject: (e: Error) => void }>();
    const fail = (err: Error): void => {
      if (!closing) failed ??= err;
      for (const w of waiting.values()) w.reject(err);
      waiting.clear();
    };
    child.on('message', (m: FromWorkerProcess) => {
      if (m.type === 'event') hooks.onEvent(i, m.event);
      else if (m.type === 'deleted') hooks.onDelete();
      else if (m.type === 'error') fail(new Error(`fleet worker process ${i + 1}: ${m.message}`));
      else {
        waiting.get(m.type)?.resolve(m);
        waiting.delete(m.type);
      }
    });
    child.once('exit', (code, signal) => fail(new Error(`fleet worker process ${i + 1} exited (code ${code}, signal ${signal})`)));
    // A send on a channel that has closed (the process died) is reported here, not thrown.
    child.on('error', (err) => fail(new Error(`fleet worker process ${i + 1}: ${err.message}`, { cause: err })));
    return {
      child,
      next: <T extends FromWorkerProcess['type']>(type: T) =>
        new Promise<Extract<FromWorkerProcess, { type: T }>>((resolve, reject) => waiting.set(type, { resolve: (m) => resolve(m as Extract<FromWorkerProcess, { type: T }>), reject })),
      send: (m) => void child.send(m),
    };
  });
  const all = async <T extends FromWorkerProcess['type']>(message: (i: number) => ToWorkerProcess, reply: T) =>
    Promise.all(
      members.map((m, i) => {
        const answered = m.next(reply);
        m.send(message(i));
        return answered;
      }),
    );
  return {
    prepare: async (prefix) => void (await all((i) => ({ type: 'prepare', setup, workerId: `${prefix}-${i + 1}` }), 'prepared')),
    start: async () => void (await all(() => ({ type: 'start' }), 'started')),
    stop: async () => {
      const calls = new CallCounter();
      let cpuMs = 0;
      for (const r of await all(() => ({ type: 'stop' }), 'stopped')) {
        calls.add(r.totals);
        cpuMs += r.cpuMs;
      }
      return { calls, cpuMs };
    },
    failure: () => failed,
    pids: members.map((m) => m.child.pid ?? -1),
    close: async () => {
      closing = true;
      await Promise.all(
        members.map(async (m) => {
          if (m.child.exitCode !== null || m.child.signalCode !== null) return;
          const exited = new Promise((r) => m.child.once('exit', r));
          m.child.disconnect();
          await exited;
        }),
      );
    },
  };
}
