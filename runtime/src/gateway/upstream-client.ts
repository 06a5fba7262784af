import type { IncomingMessage } from 'node:http';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { ApiKeyProvider } from './api-key-provider';
import { header } from './messages-request';
import { httpTransport, type UpstreamResponse, type UpstreamTransport } from './upstream-transport';

/** Request headers forwarded upstream; everything else (auth above all) is the gateway's to set. */
const FORWARDED = ['content-type', 'anthropic-version', 'anthropic-beta', 'accept'];
/** Response headers that must not be copied: the body is re-framed by this server. */
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'content-encoding']);

export interface UpstreamClientOptions {
  readonly upstreamUrl: string;
  readonly keys: ApiKeyProvider;
  /** @default httpTransport() (node:http with a keep-alive pool) */
  readonly transport?: UpstreamTransport;
}

/** The upstream's response headers a client may see, plus the gateway's own. */
export function copyHeaders(upstream: UpstreamResponse, extra: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {};
  upstream.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) headers[name] = value;
  });
  return { ...headers, ...extra };
}

/**
 * Sends a call upstream with the organisation's key (the caller's key is never forwarded). On a
 * 401 it asks the key provider once for a fresher key and retries with it: the key may have been
 * rotated. A provider that has no other key (a revoked one, within its cooldown) gets no retry.
 */
export class UpstreamClient {
  private readonly transport: UpstreamTransport;
  private readonly urls = new Map<string, URL>();

  constructor(private readonly options: UpstreamClientOptions) {
    this.transport = options.transport ?? httpTransport();
  }

  private url(path: string): URL {
    let url = this.urls.get(path);
    if (url === undefined) {
      url = new URL(path, this.options.upstreamUrl);
      this.urls.set(path, url);
    }
    return url;
  }

  async send(req: IncomingMessage, path: string, body: Buffer, signal: AbortSignal): Promise<UpstreamResponse> {
    const attempt = async (key: string) => {
      const headers: Record<string, string> = { 'x-api-key': key };
      for (const name of FORWARDED) {
        const value = header(req, name);
        if (value !== undefined) headers[name] = value;
      }
      headers['anthropic-version'] ??= '2023-06-01';
      // No client span of its own: the gateway's server span already covers the call and carries
      // its upstream status and model (proxy.ts); a second span per request doubled the tracing cost.
      return context.with(suppressTracing(context.active()), () => this.transport(this.url(path), { headers, body, signal }));
    };
    const key = await this.options.keys.get();
    const first = await attempt(key);
    if (first.status !== 401) return first;
    // Within the provider's refresh cooldown the same key comes back: its 401 is the answer.
    const fresh = await this.options.keys.refresh();
    if (fresh === key) return first;
    first.cancel();
    return attempt(fresh);
  }
}
