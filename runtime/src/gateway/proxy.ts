import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { HttpError } from '../shared/errors';
import { readBody, sendJson, type Handler } from '../shared/http';
import type { Logger } from '../shared/logger';
import type { ApiKeyProvider } from './api-key-provider';

export interface GatewayOptions {
  readonly upstreamUrl: string;
  readonly keys: ApiKeyProvider;
  readonly logger: Logger;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default 10 MiB */
  readonly maxBodyBytes?: number;
}

/** Request headers forwarded upstream; everything else (auth above all) is the gateway's to set. */
const FORWARDED = ['content-type', 'anthropic-version', 'anthropic-beta', 'accept'];
/** Response headers that must not be copied: the body is re-framed by this server. */
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'content-encoding']);

/**
 * An Anthropic Messages API-compatible proxy: workers point the SDK's baseURL here and hold no key.
 * Bodies stream through as they arrive, so SSE reaches the caller event by event.
 */
export function createGatewayHandler(options: GatewayOptions): Handler {
  const doFetch = options.fetch ?? globalThis.fetch;
  const maxBody = options.maxBodyBytes ?? 10 * 1024 * 1024;

  const forward = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    const body = await readBody(req, maxBody);
    const send = async (key: string) => {
      const headers: Record<string, string> = { 'x-api-key': key };
      for (const name of FORWARDED) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      headers['anthropic-version'] ??= '2023-06-01';
      return doFetch(new URL(path, options.upstreamUrl), { method: 'POST', headers, body });
    };
    let upstream = await send(await options.keys.get());
    if (upstream.status === 401) {
      // The key may have been rotated since we cached it.
      await upstream.body?.cancel();
      upstream = await send(await options.keys.refresh());
    }
    const headers: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name)) headers[name] = value;
    });
    res.writeHead(upstream.status, headers);
    if (upstream.body === null) {
      res.end();
      return;
    }
    const stream = Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream<Uint8Array>);
    req.on('close', () => {
      if (!res.writableFinished) stream.destroy();
    });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };

  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'POST' && (path === '/v1/messages' || path === '/v1/messages/count_tokens')) {
      return forward(req, res, path);
    }
    throw new HttpError(404, 'not_found_error', `No route for ${req.method ?? '?'} ${path}; the gateway serves POST /v1/messages and /v1/messages/count_tokens`);
  };
}
