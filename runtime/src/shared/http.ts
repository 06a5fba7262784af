import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpError, OpenClawError, errorMessage } from './errors';
import type { Logger } from './logger';

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown, logger: Logger): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof HttpError) {
    sendJson(res, err.status, err.toBody(), { ...err.headers });
    return;
  }
  logger.error('http.unhandled', { error: errorMessage(err), type: err instanceof OpenClawError ? err.type : 'internal' });
  sendJson(res, 500, { error: { type: 'internal_error', message: 'internal error; the request can be retried' } });
}

/** Read a body up to `limit` bytes; larger bodies are refused with 413 without buffering them. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new HttpError(413, 'request_too_large', `Body is ${declared} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new HttpError(413, 'request_too_large', `Body exceeds the limit of ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Listen on loopback-or-all and resolve with the bound port (port 0 picks a free one). */
export async function listen(handler: Handler, port: number, logger: Logger, host = '0.0.0.0'): Promise<RunningServer> {
  const server = createServer((req, res) => {
    handler(req, res).catch((err: unknown) => sendError(res, err, logger));
  });
  // Keep-alive longer than the ALB's idle timeout, so the ALB never reuses a closed socket.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
