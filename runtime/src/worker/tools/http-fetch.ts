import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { z } from 'zod';
import { CallbackUrlPolicy, CallbackUrlRejectedError, type CheckedCallback } from '../../shared/callback-url-policy';
import { defineTool, type ToolDefinition, type ToolResult } from '../tool-registry';

export interface HttpFetchOptions {
  /**
   * Which URLs may be fetched: the webhooks' SSRF policy (https only, public addresses only, checked
   * after DNS resolution and again on every redirect). Tests inject one that allows loopback.
   * @default new CallbackUrlPolicy()
   */
  readonly policy?: CallbackUrlPolicy;
  /** Whole request, redirects included. @default 10_000 */
  readonly timeoutMs?: number;
  /** Largest body read; a longer one is cut (and said so). @default 1_048_576 */
  readonly maxBytes?: number;
  /** Redirects followed, each one checked by the policy. @default 3 */
  readonly maxRedirects?: number;
  /**
   * Content types whose body is returned (media type, without parameters; `+json`/`+xml` suffixes
   * count as json/xml). Anything else is refused, so binaries never reach the model.
   * @default text/*, application/json, application/xml, application/xhtml+xml and +json/+xml types
   */
  readonly contentTypes?: readonly string[];
}

export const DEFAULT_FETCH_CONTENT_TYPES: readonly string[] = ['text/*', 'application/json', 'application/xml', 'application/xhtml+xml'];

const input = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'must be an absolute https URL' }).max(2048).describe('The https URL to GET; it must resolve to a public address'),
  })
  .strict();

interface Fetched {
  readonly status: number;
  readonly statusText: string;
  readonly contentType: string;
  readonly location?: string;
  readonly body: Buffer;
  readonly cut: boolean;
}

function allowedType(contentType: string, allow: readonly string[]): boolean {
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (media === '') return false;
  const normalised = /^[a-z]+\/[a-z0-9.-]+\+(json|xml)$/.test(media) ? `application/${media.slice(media.lastIndexOf('+') + 1)}` : media;
  return allow.some((a) => (a.endsWith('/*') ? normalised.startsWith(a.slice(0, -1)) : normalised === a));
}

/** One GET to the address the policy checked (no second DNS lookup, so no rebinding), body capped. */
function getPinned(target: CheckedCallback, maxBytes: number, signal: AbortSignal): Promise<Fetched> {
  const { url } = target;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise<Fetched>((resolve, reject) => {
    const req = send(
      {
        // Connect to the checked address; TLS still verifies the certificate against the hostname.
        host: target.address,
        family: target.family,
        port: url.port === '' ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
        headers: { host: url.host, 'user-agent': 'openclaw-http-fetch/1', accept: 'text/*, application/json;q=0.9, */*;q=0.1', 'accept-encoding': 'identity' },
        signal,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let cut = false;
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            contentType: String(res.headers['content-type'] ?? ''),
            ...(typeof res.headers.location === 'string' ? { location: res.headers.location } : {}),
            body: Buffer.concat(chunks),
            cut,
          });
        res.on('data', (chunk: Buffer) => {
          if (cut) return;
          const room = maxBytes - size;
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room));
            size = maxBytes;
            cut = true;
            // Stop reading: the rest of a large body is never downloaded.
            res.destroy();
            done();
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => {
          if (!cut) done();
        });
        res.on('error', (err) => {
          if (!cut) reject(err);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * `http_fetch`: GET a public https URL and return its text. Read-only. The URL goes through the
 * same SSRF policy as completion webhooks (no private, loopback, link-local or metadata addresses,
 * by literal or by DNS), the connection is pinned to the checked address, every redirect is
 * checked again, and size, time and content type are capped.
 */
export function httpFetchTool(options: HttpFetchOptions = {}): ToolDefinition {
  const policy = options.policy ?? new CallbackUrlPolicy();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 1_048_576;
  const maxRedirects = options.maxRedirects ?? 3;
  const contentTypes = options.contentTypes ?? DEFAULT_FETCH_CONTENT_TYPES;
  const refused = (message: string): ToolResult => ({ content: `http_fetch refused: ${message}`, isError: true });

  return defineTool({
    name: 'http_fetch',
    description:
      `GET a public https URL and return its status, content type and text body (text, JSON, XML, HTML; at most ${maxBytes} bytes, ${timeoutMs / 1000} s). ` +
      'Private, internal and cloud-metadata addresses are refused. Reads only; sends no credentials.',
    input,
    risk: 'read_only',
    async run({ url }, ctx) {
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
      let current = url;
      for (let hop = 0; ; hop += 1) {
        let target: CheckedCallback;
        try {
          target = await policy.check(current);
        } catch (err) {
          if (err instanceof CallbackUrlRejectedError) return refused(err.message.replace(/callbackUrl/g, 'url'));
          throw err;
        }
        let res: Fetched;
        try {
          res = await getPinned(target, maxBytes, signal);
        } catch (err) {
          if (ctx.signal.aborted) throw err;
          const why = signal.aborted ? `no complete answer within ${timeoutMs} ms` : err instanceof Error ? err.message : String(err);
          return { content: `http_fetch failed: GET ${target.url.href}: ${why}`, isError: true };
        }
        if (res.status >= 300 && res.status < 400 && res.location !== undefined) {
          if (hop >= maxRedirects) return refused(`more than ${maxRedirects} redirects (last to ${res.location.slice(0, 200)})`);
          current = new URL(res.location, target.url).href;
          continue;
        }
        if (!allowedType(res.contentType, contentTypes)) {
          return refused(`content type "${res.contentType.slice(0, 100) || 'none'}" is not one of ${contentTypes.join(', ')}`);
        }
        const text = new TextDecoder('utf-8').decode(res.body);
        const note = res.cut ? `\n[http_fetch: body cut at ${maxBytes} bytes]` : '';
        return {
          content: `HTTP ${res.status} ${res.statusText}\ncontent-type: ${res.contentType}\nurl: ${target.url.href}\n\n${text}${note}`,
          isError: res.status >= 400,
        };
      }
    },
  });
}
