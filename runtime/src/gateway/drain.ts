import type { Server } from 'node:http';
import { sendJson, type Handler } from '../shared/http';
import { errorTypeFor, retryHeaders } from './error-map';

export interface DrainResult {
  /** Every request in flight at SIGTERM finished within the budget. */
  readonly drained: boolean;
  /** Requests still open when the budget ran out (cut). */
  readonly cut: number;
  readonly tookMs: number;
}

/**
 * Graceful stop for the gateway. A cut LLM call is retried by its worker and paid twice, so on
 * SIGTERM the gateway stops accepting connections, answers /health 503 (so no new traffic is sent
 * its way), refuses new requests on kept-alive connections with a retryable 503 and
 * `connection: close` (the SDK retries on another replica), and lets every call and stream in
 * flight finish within the drain budget, which the CDK sets below the task's ECS stop timeout.
 * Only what is still open when the budget runs out is cut, just before SIGKILL would cut it anyway.
 */
export class RequestDrain {
  private inFlight = 0;
  private draining = false;
  private onIdle: (() => void) | undefined;

  /** Requests being served now. */
  get active(): number {
    return this.inFlight;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Count requests through `handler`, and refuse new ones once draining. */
  wrap(handler: Handler): Handler {
    return async (req, res) => {
      if (this.draining) {
        res.setHeader('connection', 'close');
        const path = (req.url ?? '/').split('?')[0];
        if (path === '/health') return sendJson(res, 503, { status: 'draining' });
        return sendJson(
          res,
          503,
          { type: 'error', error: { type: errorTypeFor(503), message: 'This gateway replica is shutting down; retry, and the next connection goes to another replica' } },
          retryHeaders({ shouldRetry: true, retryAfterMs: 1 }),
        );
      }
      this.inFlight += 1;
      res.once('close', () => {
        this.inFlight -= 1;
        if (this.inFlight === 0) this.onIdle?.();
      });
      return handler(req, res);
    };
  }

  /** Stop accepting, wait for the requests in flight up to `budgetMs`, then close every connection. */
  async drain(server: Server, budgetMs: number, now: () => number = Date.now): Promise<DrainResult> {
    const started = now();
    this.draining = true;
    // Stops listening and closes idle keep-alive sockets; busy ones stay until their response ends.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A keep-alive socket that finishes its response during the drain gets `connection: close` on
    // the next request at the latest; close those that fall idle now.
    const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
    idleSweep.unref();
    const drained = await new Promise<boolean>((resolve) => {
      if (this.inFlight === 0) return resolve(true);
      const timer = setTimeout(() => resolve(false), budgetMs);
      this.onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    clearInterval(idleSweep);
    this.onIdle = undefined;
    const cut = this.inFlight;
    server.closeAllConnections();
    await closed;
    return { drained, cut, tookMs: now() - started };
  }
}
