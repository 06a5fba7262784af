import { memberWorker, type FromWorkerProcess, type MemberWorker, type ToWorkerProcess } from './fleet-member';

/**
 * One fleet worker in its own Node process, as each worker is its own ECS task when deployed
 * (bundled and spawned by `fleet-processes.ts`; not a service entry point).
 */
function main(): void {
  const send = (m: FromWorkerProcess): void => void process.send?.(m);
  let worker: MemberWorker | undefined;
  let cpuAtStart = process.cpuUsage();
  process.on('message', (m: ToWorkerProcess) => {
    void (async () => {
      try {
        if (m.type === 'prepare') {
          worker = memberWorker(m.setup, m.workerId, { onEvent: (event) => send({ type: 'event', event }), onDelete: () => send({ type: 'deleted' }) });
          send({ type: 'prepared' });
        } else if (m.type === 'start') {
          cpuAtStart = process.cpuUsage();
          await worker?.start();
          send({ type: 'started' });
        } else {
          const totals = await worker?.stop();
          const cpu = process.cpuUsage(cpuAtStart);
          worker = undefined;
          send({ type: 'stopped', totals: totals ?? { counts: {}, ms: {}, busyMs: 0 }, cpuMs: (cpu.user + cpu.system) / 1000 });
        }
      } catch (err) {
        send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

main();
