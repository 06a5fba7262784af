import { GroupCommit, GroupCommitOutcomeError, type ItemOutcome } from '../../../runtime/src/shared/group-commit';

/** A write whose completion the test controls: each call is recorded with its items and waits for release(). */
function controlledWrite() {
  const calls: { items: number[]; signal: AbortSignal | undefined; release: (outcomes?: ItemOutcome<string>[] | Error) => void }[] = [];
  const write = (items: readonly number[], signal: AbortSignal | undefined) =>
    new Promise<readonly ItemOutcome<string>[]>((resolve, reject) => {
      calls.push({
        items: [...items],
        signal,
        release: (outcomes) => {
          if (outcomes instanceof Error) reject(outcomes);
          else resolve(outcomes ?? items.map((i) => ({ ok: true, value: `wrote ${i}` })));
        },
      });
    });
  return { calls, write };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('GIVEN a free slot WHEN one item is submitted THEN it is written at once, alone, and answered its own outcome', async () => {
    const w = controlledWrite();
    const batches = new GroupCommit<number, string>({ maxItems: 10, maxInFlight: 1, write: w.write });
    const answer = batches.submit(7);
    expect(w.calls.map((c) => c.items)).toEqual([[7]]);
    w.calls[0]?.release();
    await expect(answer).resolves.toBe('wrote 7');
  });

  it('GIVEN every slot busy WHEN items arrive THEN they wait and go out together in the next write, each caller getting its own outcome', async () => {
    const w = controlledWrite();
    const batches = new GroupCommit<number, string>({ maxItems: 10, maxInFlight: 1, write: w.write });
    const first = batches.submit(1);
    const waiting = [2, 3, 4].map((i) => batches.submit(i));
    expect(w.calls).toHaveLength(1);
    expect(batches.queued).toBe(3);
    w.calls[0]?.release();
    await first;
    await tick();
    expect(w.calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    // One item of the batch fails on its own: only its caller sees the error.
    w.calls[1]?.release([{ ok: true, value: 'a' }, { ok: false, error: new Error('row 3 refused') }, { ok: true, value: 'c' }]);
    const settled = await Promise.allSettled(waiting);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual(['a', 'row 3 refused', 'c']);
  });

  it('GIVEN more waiting items than maxItems or maxBytes allow THEN each write stays within both limits, oldest first', async () => {
    const w = controlledWrite();
    const batches = new GroupCommit<number, string>({ maxItems: 3, maxBytes: 100, maxInFlight: 1, write: w.write });
    const all = [batches.submit(0, { sizeBytes: 10 })];
    // Items 1-4 fit by count only up to three; items 5-6 are 60 bytes each, so only one fits per write.
    for (const i of [1, 2, 3, 4]) all.push(batches.submit(i, { sizeBytes: 10 }));
    for (const i of [5, 6]) all.push(batches.submit(i, { sizeBytes: 60 }));
    // An item larger than maxBytes still goes, on its own.
    all.push(batches.submit(7, { sizeBytes: 500 }));
    for (let n = 0; n < 6; n += 1) {
      w.calls[n]?.release();
      await tick();
    }
    await Promise.all(all);
    expect(w.calls.map((c) => c.items)).toEqual([[0], [1, 2, 3], [4, 5], [6], [7]]);
  });

  it('GIVEN maxInFlight 2 THEN two writes run at once and the third waits for one of them', async () => {
    const w = controlledWrite();
    const batches = new GroupCommit<number, string>({ maxItems: 10, maxInFlight: 2, write: w.write });
    const all = [batches.submit(1), batches.submit(2), batches.submit(3), batches.submit(4)];
    expect(w.calls.map((c) => c.items)).toEqual([[1], [2]]);
    w.calls[1]?.release();
    await tick();
    expect(w.calls.map((c) => c.items)).toEqual([[1], [2], [3, 4]]);
    w.calls[0]?.release();
    w.calls[2]?.release();
    await expect(Promise.all(all)).resolves.toEqual(['wrote 1', 'wrote 2', 'wrote 3', 'wrote 4']);
  });

  it('GIVEN a write that throws THEN every item of that batch is rejected with its error, and later items still go', async () => {
    const w = controlledWrite();
    const batches = new GroupCommit<number, string>({ maxItems: 10, maxInFlight: 1, write: w.write });
    const lost = [batches.submit(1), batches.submit(2)];
    w.calls[0]?.release(new Error('store unavailable'));
    await expect(lost[0]).rejects.toThrow('store unavailable');
    await tick();
    w.calls[1]?.release(new Error('store unavailable'));
    await expect(lost[1]).rejects.toThrow('store unavailable');
    const later = batches.submit(3);
    w.calls[2]?.release();
    await expect(later).resolves.toBe('wrote 3');
  });

  it('GIVEN a write that answers the wrong number of outcomes THEN its items fail with GroupCommitOutcomeError rather than hang', async () => {
    const w = controlledWrite();
    const batches = new GroupCommit<number, string>({ maxItems: 10, maxInFlight: 1, write: w.write });
    const answer = batches.submit(1);
    w.calls[0]?.release([]);
    await expect(answer).rejects.toBeInstanceOf(GroupCommitOutcomeError);
  });

  it('GIVEN an item whose deadline passes while it waits THEN it is rejected at once and never written', async () => {
    const w = controlledWrite();
    const batches = new GroupCommit<number, string>({ maxItems: 10, maxInFlight: 1, write: w.write });
    const first = batches.submit(1);
    const deadline = new AbortController();
    const late = batches.submit(2, { signal: deadline.signal });
    const kept = batches.submit(3);
    deadline.abort(new Error('deadline passed'));
    await expect(late).rejects.toThrow('deadline passed');
    w.calls[0]?.release();
    await first;
    await tick();
    expect(w.calls.map((c) => c.items)).toEqual([[1], [3]]);
    w.calls[1]?.release();
    await expect(kept).resolves.toBe('wrote 3');
    // Already aborted: refused without a write.
    await expect(batches.submit(4, { signal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow('gone');
    expect(w.calls).toHaveLength(2);
  });

  it('GIVEN items with deadlines in one write THEN the write gets a signal that aborts when the earliest of them does', async () => {
    const w = controlledWrite();
    const batches = new GroupCommit<number, string>({ maxItems: 10, maxInFlight: 1, write: w.write });
    const blocker = batches.submit(0);
    const a = new AbortController();
    const b = new AbortController();
    const items = [batches.submit(1, { signal: a.signal }), batches.submit(2, { signal: b.signal }), batches.submit(3)];
    w.calls[0]?.release();
    await blocker;
    await tick();
    const signal = w.calls[1]?.signal;
    expect(signal?.aborted).toBe(false);
    b.abort(new Error('item 2 deadline'));
    expect(signal?.aborted).toBe(true);
    w.calls[1]?.release(new Error('aborted'));
    await expect(Promise.allSettled(items)).resolves.toHaveLength(3);
  });

  it('GIVEN nonsense limits THEN the constructor says which one and why', () => {
    const write = async () => [];
    expect(() => new GroupCommit({ maxItems: 0, maxInFlight: 1, write })).toThrow('maxItems must be a whole number ≥ 1 (got 0)');
    expect(() => new GroupCommit({ maxItems: 5, maxInFlight: 1.5, write })).toThrow('maxInFlight must be a whole number ≥ 1 (got 1.5)');
  });
});
