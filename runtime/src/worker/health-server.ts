import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../shared/http';
import type { Consumer } from './consumer';
import { judgeHealth } from './health';

export interface WorkerHealthHandlerOptions {
  /** An idle poll loop quiet for longer is stuck. @default 120_000 */
  readonly idleStallMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * The worker's HTTP endpoints on its health port: `/health` (200 while alive and making progress,
 * 503 with the stalled slots otherwise; the container health check reads it) and `/stats` (the soak
 * reads the heap, after a forced GC with `?gc=1` under `node --expose-gc`).
 */
export function workerHealthHandler(consumer: Consumer, options: WorkerHealthHandlerOptions = {}) {
  const now = options.now ?? Date.now;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/stats') {
      const gc = (globalThis as { gc?: () => void }).gc;
      if ((req.url ?? '').includes('gc=1') && gc !== undefined) gc();
      return sendJson(res, 200, { ...consumer.stats(), memory: process.memoryUsage() });
    }
    if (path !== '/health') return sendJson(res, 404, { error: { type: 'not_found_error', message: `No route ${path}` } });
    const verdict = judgeHealth(consumer.healthSnapshot(), now(), {
      busyStallMs: consumer.leaseMs,
      ...(options.idleStallMs !== undefined ? { idleStallMs: options.idleStallMs } : {}),
    });
    sendJson(res, verdict.healthy ? 200 : 503, { status: verdict.status, ...(verdict.stalled.length > 0 ? { stalled: verdict.stalled } : {}) });
  };
}
