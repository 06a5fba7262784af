import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { WINDOW_MS } from '../../runtime/src/gateway/gcra';
import { DynamoLimitStore } from '../../runtime/src/gateway/limit-store';
import { createTable } from '../../tools/local/provision';
import { startStubModel } from '../../tools/local/stub-model';
import type { BenchRow } from '../report/table';
import { benchEmulators } from '../support/emulators';
import { startGatewayFleet } from './fleet';
import { ProviderMeter } from './provider-meter';

export interface GatewayOverloadOptions {
  readonly dynamoEndpoint: string;
  /** @default 3 */
  readonly replicas?: number;
  /** Offered load as a multiple of each limit. @default 10 */
  readonly overload?: number;
  /** Measured window after the warm-up (ms). @default 60_000 */
  readonly windowMs?: number;
  /** @default 10_000 */
  readonly warmupMs?: number;
}

/** One tier per limit, so each of the three binds while the others have room. */
const CASES = [
  { tier: 'sonnet', model: 'claude-sonnet-5', kind: 0, label: 'requests/min', prompt: 'rpm bound [tools:0]', maxTokens: 64 },
  { tier: 'opus', model: 'claude-opus-5', kind: 1, label: 'input tokens/min', prompt: `itpm bound ${'lorem ipsum '.repeat(150)}[tools:0]`, maxTokens: 64 },
  { tier: 'haiku', model: 'claude-haiku-5-5', kind: 2, label: 'output tokens/min', prompt: 'otpm bound [tools:0]', maxTokens: 200 },
] as const;

interface Outcome {
  readonly lane: string;
  readonly status: number;
  readonly queuedMs: number;
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

/**
 * 10× overload through replicas in their own processes sharing DynamoDB Local, against a stub
 * that enforces the same limits the way the provider does: one tier bound by each limit, mixed
 * streaming and non-streaming calls, 5% high lane while normal and batch flood.
 */
export async function runGatewayOverloadBench(options: GatewayOverloadOptions): Promise<BenchRow[]> {
  const replicas = options.replicas ?? 3;
  const overload = options.overload ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  const warmupMs = options.warmupMs ?? 10_000;
  const raw = new DynamoDBClient({ region: 'us-east-1', endpoint: options.dynamoEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const dynamo = DynamoDBDocumentClient.from(raw);
  const table = `bench-gwover-${Date.now().toString(36)}`;
  await createTable(raw, table);
  const stub0 = await startStubModel();
  // Tokens per call of each case, as the stub counts them.
  const perCall = new Map<string, [number, number, number]>();
  for (const c of CASES) {
    const res = await fetch(`${stub0.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: c.model, max_tokens: c.maxTokens, messages: [{ role: 'user', content: c.prompt }] }) });
    const usage = ((await res.json()) as { usage: { input_tokens: number; output_tokens: number } }).usage;
    perCall.set(c.model, [1, usage.input_tokens, usage.output_tokens]);
  }
  await stub0.close();
  // About 4 admissions a second per tier at the limit: enough to measure, cheap enough for 2 cores.
  const limitsOf = (c: (typeof CASES)[number]): [number, number, number] => {
    const per = perCall.get(c.model) ?? [1, 1, 1];
    const big: [number, number, number] = [1_000_000, 1_000_000_000, 1_000_000_000];
    big[c.kind] = Math.round(240 * (per[c.kind] ?? 1));
    return big;
  };
  const meter = new ProviderMeter(Object.fromEntries(CASES.map((c) => [c.model, limitsOf(c)])));
  const stub = await startStubModel({ intercept: meter.intercept });
  const limits = {
    tiers: Object.fromEntries(CASES.map((c) => [c.tier, { models: [c.model], rpm: limitsOf(c)[0], itpm: limitsOf(c)[1], otpm: limitsOf(c)[2] }])),
    queue: { maxWaitMs: 2000 },
  };
  const fleet = await startGatewayFleet({ replicas, upstreamUrl: stub.url, limits, table, dynamoEndpoint: options.dynamoEndpoint });
  try {
    // Start where a long overload leaves the buckets: filled to the normal lane's ceiling.
    const store = new DynamoLimitStore({ client: dynamo, tableName: table });
    const t0 = Date.now();
    const full = t0 + 0.8 * WINDOW_MS;
    for (const c of CASES) {
      const state = await store.read(c.tier);
      await store.write(c.tier, [full, full, full], state.version);
      meter.fill(c.model, 0.8, t0);
    }
    const durationMs = warmupMs + windowMs;
    const outcomes = new Map<string, Promise<Outcome>[]>(CASES.map((c) => [c.model, []]));
    await new Promise<void>((resolve) => {
      const counters = new Map<string, number>(CASES.map((c) => [c.model, 0]));
      const timer = setInterval(() => {
        const elapsed = Math.min(Date.now() - t0, durationMs);
        for (const c of CASES) {
          const per = perCall.get(c.model) ?? [1, 1, 1];
          const perSecond = (overload * (limitsOf(c)[c.kind] ?? 0)) / (per[c.kind] ?? 1) / 60;
          const due = Math.floor((elapsed / 1000) * perSecond);
          let i = counters.get(c.model) ?? 0;
          while (i < due) {
            const lane = i % 20 === 0 ? 'high' : i % 2 === 1 ? 'batch' : 'normal';
            const stream = i % 3 === 0;
            const url = fleet.replicas[i % fleet.replicas.length]?.url ?? '';
            i += 1;
            outcomes.get(c.model)?.push(
              fetch(`${url}/v1/messages`, {
                method: 'POST',
                headers: { 'content-type': 'application/json', 'x-openclaw-priority': lane, 'x-stainless-timeout': '4' },
                body: JSON.stringify({ model: c.model, max_tokens: c.maxTokens, stream, messages: [{ role: 'user', content: c.prompt }] }),
              }).then(
                async (res) => {
                  await res.arrayBuffer();
                  return { lane, status: res.status, queuedMs: Number(res.headers.get('x-openclaw-queued-ms') ?? '0') };
                },
                () => ({ lane, status: 0, queuedMs: 0 }),
              ),
            );
          }
          counters.set(c.model, i);
        }
        if (Date.now() - t0 >= durationMs) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    const rows: BenchRow[] = [];
    const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
    for (const c of CASES) {
      const all = await Promise.all(outcomes.get(c.model) ?? []);
      const limit = limitsOf(c)[c.kind] ?? 1;
      const used = (meter.used(c.model, t0 + warmupMs, t0 + durationMs)[c.kind] ?? 0) / ((limit * windowMs) / WINDOW_MS);
      // The worst one-minute window from the start of the overload (the starting burst included).
      let worst = 0;
      for (let from = t0; from + WINDOW_MS <= t0 + durationMs; from += 1000) worst = Math.max(worst, (meter.used(c.model, from, from + WINDOW_MS)[c.kind] ?? 0) / limit);
      const high = all.filter((o) => o.lane === 'high');
      const highWaits = high.filter((o) => o.status === 200).map((o) => o.queuedMs).sort((a, b) => a - b);
      const highP99 = percentile(highWaits, 0.99);
      const highRefused = high.filter((o) => o.status !== 200).length;
      rows.push({
        bench: `gateway overload ${overload}× for ${(durationMs / 1000).toFixed(0)} s, ${replicas} processes, ${c.label} binding (${c.tier}), 1/3 streaming`,
        measured: `use ${pct(used)}, worst minute ${pct(worst)}, upstream 429s ${meter.rejected}`,
        baseline: 'goals: use ≥ 98%, worst minute ≤ 102%, 0 upstream 429s',
        ratio: `${used >= 0.98 && worst <= 1.02 && meter.rejected === 0 ? 'met' : 'NOT met'}`,
        note: `high lane p99 wait ${highP99.toFixed(0)} ms (goal ≤ 1000: ${highP99 <= 1000 ? 'met' : 'NOT met'}), high refused ${highRefused}/${high.length}; offered ${all.length}, 429 to callers ${all.filter((o) => o.status === 429).length}`,
      });
    }
    return rows;
  } finally {
    await fleet.stop();
    await stub.close();
    dynamo.destroy();
  }
}

if (require.main === module) {
  const endpoint = process.env['AWS_ENDPOINT_URL_DYNAMODB'];
  void (async () => {
    const emulators = endpoint === undefined ? await benchEmulators() : undefined;
    try {
      const rows = await runGatewayOverloadBench({ dynamoEndpoint: endpoint ?? emulators?.dynamoEndpoint ?? '', windowMs: Number(process.env['BENCH_WINDOW_MS'] ?? 60_000) });
      for (const row of rows) process.stdout.write(`${row.bench}\n  ${row.measured} | ${row.baseline} | ${row.ratio} | ${row.note ?? ''}\n`);
    } finally {
      await emulators?.stop();
    }
  })();
}
