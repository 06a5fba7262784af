import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
  readonly sentAt: number;
}

/** One call through the driver's keep-alive pool: status and the gateway's x-openclaw-queued-ms. */
function post(agent: Agent, url: URL, headers: Record<string, string>, body: Buffer): Promise<{ status: number; queuedMs: number }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      res.on('data', () => undefined);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, queuedMs: Number(res.headers['x-openclaw-queued-ms'] ?? '0') }));
      res.once('error', () => resolve({ status: 0, queuedMs: 0 }));
    });
    req.once('error', () => resolve({ status: 0, queuedMs: 0 }));
    req.end(body);
  });
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
    // Warm each replica up (JIT, SDK clients, the bucket items), as the process-overhead row does:
    // a cold replica on a busy host admits nothing for its first seconds, then catches up in a burst.
    for (const r of fleet.replicas) {
      for (const c of CASES) {
        const res = await fetch(`${r.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-openclaw-priority': 'high' }, body: JSON.stringify({ model: c.model, max_tokens: c.maxTokens, messages: [{ role: 'user', content: c.prompt }] }) });
        await res.arrayBuffer();
      }
    }
    // Capacity the warm-up leased goes back after the lease TTL (2 s): let it, before the state is set.
    await new Promise((r) => setTimeout(r, 3000));
    // Start where a long overload leaves the buckets: filled to the normal lane's ceiling.
    const store = new DynamoLimitStore({ client: dynamo, tableName: table });
    const t0 = Date.now();
    const full = t0 + 0.8 * WINDOW_MS;
    for (const c of CASES) {
      // A replica may be writing a refund at the same moment: compare-and-set until ours lands.
      let written = false;
      for (let attempt = 0; attempt < 20 && !written; attempt += 1) {
        const state = await store.read(c.tier);
        written = await store.write(c.tier, [full, full, full], state.version);
      }
      if (!written) throw new Error(`could not set the ${c.tier} buckets for the overload run`);
      meter.fill(c.model, 0.8, t0);
    }
    const durationMs = warmupMs + windowMs;
    const load0 = loadavg()[0] ?? 0;
    const agent = new Agent({ keepAlive: true, noDelay: true });
    const targets = fleet.replicas.map((r) => new URL('/v1/messages', r.url));
    const bodies = new Map(CASES.flatMap((c) => [false, true].map((stream) => [`${c.model}/${stream}`, Buffer.from(JSON.stringify({ model: c.model, max_tokens: c.maxTokens, stream, messages: [{ role: 'user', content: c.prompt }] }))] as const)));
    const outcomes = new Map<string, Promise<Outcome>[]>(CASES.map((c) => [c.model, []]));
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    // The measured window's bounds and the provider's free capacity at each, taken when they happen
    // (a starved driver's timers fire late; the window is what was actually measured).
    const snap = () => ({ at: Date.now(), free: new Map(CASES.map((c) => [c.model, meter.free(c.model)])) });
    let windowStart: ReturnType<typeof snap> | undefined;
    let windowEnd: ReturnType<typeof snap> | undefined;
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
            const url = targets[i % targets.length] as URL;
            i += 1;
            const sentAt = Date.now();
            const body = bodies.get(`${c.model}/${stream}`) as Buffer;
            outcomes.get(c.model)?.push(post(agent, url, { 'content-type': 'application/json', 'x-openclaw-priority': lane, 'x-stainless-timeout': '4' }, body).then((r) => ({ lane, sentAt, ...r })));
          }
          counters.set(c.model, i);
        }
        if (windowStart === undefined && Date.now() - t0 >= warmupMs) windowStart = snap();
        if (Date.now() - t0 >= durationMs) {
          windowEnd = snap();
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    loop.disable();
    const driverLagP99 = loop.percentile(99) / 1e6;
    const rows: BenchRow[] = [];
    const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
    for (const c of CASES) {
      const all = await Promise.all(outcomes.get(c.model) ?? []);
      // Where the units went, 10 s at a time, as a share of the limit's rate (the warm-up first).
      const series: string[] = [];
      for (let from = t0; from < t0 + durationMs; from += 10_000) series.push(pct((meter.used(c.model, from, from + 10_000)[c.kind] ?? 0) / (((limitsOf(c)[c.kind] ?? 1) * 10_000) / WINDOW_MS)));
      const limit = limitsOf(c)[c.kind] ?? 1;
      const from = windowStart ?? { at: t0 + warmupMs, free: new Map() };
      const to = windowEnd ?? { at: t0 + durationMs, free: new Map() };
      const used = meter.use(c.model, { from: from.at, to: to.at, freeAtFrom: from.free.get(c.model) ?? [0, 0, 0], freeAtTo: to.free.get(c.model) ?? [0, 0, 0] }, c.kind);
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
        note: `high lane p99 wait ${highP99.toFixed(0)} ms (goal ≤ 1000: ${highP99 <= 1000 ? 'met' : 'NOT met'}), high refused ${highRefused}/${high.length}; offered ${all.length}, 429 to callers ${all.filter((o) => o.status === 429).length}, other failures ${all.filter((o) => o.status !== 200 && o.status !== 429).length}; use per 10 s ${series.join(' ')}; driver event-loop p99 lag ${driverLagP99.toFixed(0)} ms${driverLagP99 > 200 ? ' (host starved: timings and the per-window figures are not meaningful)' : ''}, load average ${load0.toFixed(1)} → ${(loadavg()[0] ?? 0).toFixed(1)}`,
      });
    }
    agent.destroy();
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
