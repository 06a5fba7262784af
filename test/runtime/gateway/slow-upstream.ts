import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the test upstream answers a /v1/messages call. */
export type SlowBehaviour =
  /** SSE events every `everyMs`, `events` of them, then message_stop. */
  | { readonly kind: 'stream'; readonly events: number; readonly everyMs: number }
  /** SSE headers and one event, then silence (never ends). */
  | { readonly kind: 'stall-stream' }
  /** JSON headers and half a body, then silence. */
  | { readonly kind: 'stall-body' }
  /** A whole JSON reply after `delayMs`. */
  | { readonly kind: 'json'; readonly delayMs: number };

export interface SlowUpstream {
  readonly url: string;
  next: SlowBehaviour;
  close(): Promise<void>;
}

const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const message = { id: 'msg_slow', type: 'message', role: 'assistant', model: 'claude-sonnet-5', stop_sequence: null, usage };
const event = (res: ServerResponse, name: string, data: unknown) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);

/** A provider that takes its time, to prove what the gateway does with slow and stalled calls. */
export async function startSlowUpstream(): Promise<SlowUpstream> {
  const open = new Set<ServerResponse>();
  const upstream: { next: SlowBehaviour } = { next: { kind: 'json', delayMs: 0 } };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      open.add(res);
      res.on('close', () => open.delete(res));
      const b = upstream.next;
      if (b.kind === 'json') {
        setTimeout(() => {
          const text = JSON.stringify({ ...message, content: [{ type: 'text', text: 'slow hello' }], stop_reason: 'end_turn' });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        }, b.delayMs);
        return;
      }
      if (b.kind === 'stall-body') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"id":"msg_slow","type":"mess');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      event(res, 'message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null } });
      if (b.kind === 'stall-stream') return;
      event(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        sent += 1;
        event(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `part${sent} ` } });
        if (sent < b.events) return;
        clearInterval(timer);
        event(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
        event(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: b.events } });
        event(res, 'message_stop', { type: 'message_stop' });
        res.end();
      }, b.everyMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get next() {
      return upstream.next;
    },
    set next(b: SlowBehaviour) {
      upstream.next = b;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Read a whole SSE body as text; rejects if the connection breaks. */
export async function readText(res: Response): Promise<string> {
  return Buffer.from(await res.arrayBuffer()).toString('utf8');
}
