/** The upstream sent no bytes for longer than the idle timeout, after its headers. */
export class UpstreamIdleError extends Error {
  constructor(readonly idleMs: number) {
    super(`Upstream sent nothing for ${idleMs} ms`);
    this.name = 'UpstreamIdleError';
  }
}

/**
 * The body's chunks, aborting the call through `abort` when the upstream falls silent for
 * `idleMs`. Only upstream silence counts: while the consumer holds a chunk (waiting for a slow
 * client to drain), the clock is stopped, so backpressure is never mistaken for a stalled provider.
 */
export async function* chunksWithIdleTimeout(body: ReadableStream<Uint8Array> | null, idleMs: number, abort: AbortController): AsyncGenerator<Uint8Array> {
  if (body === null) return;
  const reader = body.getReader();
  try {
    for (;;) {
      const timer = setTimeout(() => abort.abort(new UpstreamIdleError(idleMs)), idleMs);
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** The whole body, bounded by the same idle timeout between chunks. */
export async function readWithIdleTimeout(body: ReadableStream<Uint8Array> | null, idleMs: number, abort: AbortController): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of chunksWithIdleTimeout(body, idleMs, abort)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
