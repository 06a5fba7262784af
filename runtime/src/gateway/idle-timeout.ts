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
export async function* chunksWithIdleTimeout(body: AsyncIterable<Uint8Array>, idleMs: number, abort: AbortController): AsyncGenerator<Uint8Array> {
  const chunks = body[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const timer = setTimeout(() => abort.abort(new UpstreamIdleError(idleMs)), idleMs);
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } finally {
        clearTimeout(timer);
      }
      if (next.done === true) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // Broken off before the end: let the body go (frees the upstream connection).
    if (!done) await chunks.return?.();
  }
}

/** The whole body, bounded by the same idle timeout between chunks. */
export async function readWithIdleTimeout(body: AsyncIterable<Uint8Array>, idleMs: number, abort: AbortController): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of chunksWithIdleTimeout(body, idleMs, abort)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
