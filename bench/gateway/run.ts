import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { staticKeyProvider } from '../../runtime/src/gateway/api-key-provider';
import { DynamoBreakerStore } from '../../runtime/src/gateway/breaker-store';
import { DynamoLimitStore } from '../../runtime/src/gateway/limit-store';
import { parseGatewayLimits } from '../../runtime/src/shared/gateway-limits';
import { createGatewayHandler } from '../../runtime/src/gateway/proxy';
import { startDynamoDbLocal, type RunningEmulator } from '../../tools/local/emulators';
import { createTable } from '../../tools/local/provision';
import { startStubModel } from '../../tools/local/stub-model';
import { listen } from '../../runtime/src/shared/http';
import { silentLogger } from '../../runtime/src/shared/logger';
import { describeIssues } from '../../runtime/src/shared/zod-issues';

export interface GatewayBenchOptions {
  /** Reuse a running DynamoDB Local (the gateway's shared buckets live there); otherwise one is started. */
  readonly dynamoEndpoint?: string;
  /** Requests per path per round. @default 1500 */
  readonly requests?: number;
  /** Requests in flight at once. @default 16 */
  readonly concurrency?: number;
  /** Rounds, alternating direct and gateway so drift on a busy machine hits both. @default 3 */
  readonly rounds?: number;
  /** Stub model latency (ms); 0 measures the gateway's own overhead. @default 0 */
  readonly modelLatencyMs?: number;
  /** Send `stream: true` and read the SSE to the end. @default false */
  readonly stream?: boolean;
  /** Where the buckets and breakers live: the deployed shape (DynamoDB) or in-process, to split the overhead. @default 'dynamodb' */
  readonly store?: 'dynamodb' | 'memory';
  /** GATEWAY_LIMITS queue.lease.horizonMs: leased capacity (0 turns it off). @default 1000 */
  readonly leaseHorizonMs?: number;
}

export interface PathFigures {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

export interface GatewayBenchResult {
  readonly requests: number;
  readonly concurrency: number;
  readonly direct: PathFigures;
  readonly gateway: PathFigures;
  /** gateway ÷ direct throughput. */
  readonly throughputRatio: number;
  /** Latency the gateway adds, per percentile (ms). */
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
  /** Rows for `npm run bench`'s table. */
  readonly rows: readonly { bench: string; measured: string; baseline: string; ratio: string; note?: string }[];
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

async function drive(url: string, total: number, concurrency: number, stream: boolean): Promise<{ latencies: number[]; elapsedMs: number; errors: number }> {
  const body = JSON.stringify({ model: 'claude-sonnet-5', max_tokens: 64, stream, messages: [{ role: 'user', content: 'Benchmark ping [tools:0]' }] });
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < total) {
      next += 1;
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-openclaw-priority': 'normal' }, body });
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (res.status !== 200) errors += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { latencies, elapsedMs: performance.now() - started, errors };
}

function figures(runs: { latencies: number[]; elapsedMs: number; errors: number }[]): PathFigures {
  const all = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const elapsed = runs.reduce((t, r) => t + r.elapsedMs, 0);
  return { requestsPerSecond: (all.length / elapsed) * 1000, p50Ms: percentile(all, 0.5), p99Ms: percentile(all, 0.99), errors: runs.reduce((t, r) => t + r.errors, 0) };
}

/**
 * Requests per second and latency through the gateway (routing, breaker, shared GCRA buckets in
 * DynamoDB Local, usage accounting) against the stub model, side by side with calls straight to
 * the stub in the same run. Limits are set far above the offered load: this measures overhead.
 */
export async function runGatewayBench(options: GatewayBenchOptions = {}): Promise<GatewayBenchResult> {
  const requests = options.requests ?? 1500;
  const concurrency = options.concurrency ?? 16;
  const rounds = options.rounds ?? 3;
  const stream = options.stream ?? false;
  const started: RunningEmulator[] = [];
  const endpoint = options.dynamoEndpoint ?? (started[started.push(await startDynamoDbLocal()) - 1] as RunningEmulator).endpoint;
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const raw = new DynamoDBClient({ region: 'us-east-1', endpoint, credentials });
  const dynamo = DynamoDBDocumentClient.from(raw);
  const stub = await startStubModel({ latencyMs: options.modelLatencyMs ?? 0 });
  try {
    // The gateway table's shape, as the data stack creates it.
    const gatewayTable = `bench-gateway-${Date.now().toString(36)}`;
    await createTable(raw, gatewayTable);
    const limits = parseGatewayLimits({
      tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: 10_000_000, itpm: 1_000_000_000, otpm: 1_000_000_000 } },
      queue: { lease: { horizonMs: options.leaseHorizonMs ?? 1000 } },
    });
    const gateway = await listen(
      createGatewayHandler({
        upstreamUrl: stub.url,
        keys: staticKeyProvider('bench-key'),
        logger: silentLogger,
        limits,
        ...(options.store === 'memory' ? {} : { limitStore: new DynamoLimitStore({ client: dynamo, tableName: gatewayTable }), breakerStore: new DynamoBreakerStore({ client: dynamo, tableName: gatewayTable }) }),
      }),
      0,
      silentLogger,
      '127.0.0.1',
    );
    try {
      // Warm both paths (JIT, connection pools, the bucket item) before measuring.
      await drive(stub.url, 100, concurrency, stream);
      await drive(gateway.url, 100, concurrency, stream);
      const direct: Awaited<ReturnType<typeof drive>>[] = [];
      const viaGateway: Awaited<ReturnType<typeof drive>>[] = [];
      for (let r = 0; r < rounds; r += 1) {
        direct.push(await drive(stub.url, requests, concurrency, stream));
        viaGateway.push(await drive(gateway.url, requests, concurrency, stream));
      }
      const d = figures(direct);
      const g = figures(viaGateway);
      const fmt = (n: number, digits = 1) => n.toFixed(digits);
      const label = `gateway overhead: ${rounds}×${requests} ${stream ? 'streaming' : 'non-streaming'} calls, ${concurrency} in flight, stub latency ${options.modelLatencyMs ?? 0} ms, state in ${options.store ?? 'dynamodb'}, lease horizon ${options.leaseHorizonMs ?? 1000} ms`;
      return {
        requests: requests * rounds,
        concurrency,
        direct: d,
        gateway: g,
        throughputRatio: g.requestsPerSecond / d.requestsPerSecond,
        addedP50Ms: g.p50Ms - d.p50Ms,
        addedP99Ms: g.p99Ms - d.p99Ms,
        rows: [
          { bench: `${label}: throughput`, measured: `${fmt(g.requestsPerSecond, 0)} req/s via gateway`, baseline: `${fmt(d.requestsPerSecond, 0)} req/s direct`, ratio: `${fmt(g.requestsPerSecond / d.requestsPerSecond, 2)}×`, note: `errors: gateway ${g.errors}, direct ${d.errors}` },
          { bench: `${label}: p50 latency`, measured: `${fmt(g.p50Ms)} ms`, baseline: `${fmt(d.p50Ms)} ms`, ratio: `${fmt(g.p50Ms / Math.max(d.p50Ms, 0.001), 2)}×`, note: `+${fmt(g.p50Ms - d.p50Ms)} ms added` },
          { bench: `${label}: p99 latency`, measured: `${fmt(g.p99Ms)} ms`, baseline: `${fmt(d.p99Ms)} ms`, ratio: `${fmt(g.p99Ms / Math.max(d.p99Ms, 0.001), 2)}×`, note: `+${fmt(g.p99Ms - d.p99Ms)} ms added` },
        ],
      };
    } finally {
      await gateway.close();
    }
  } finally {
    await stub.close();
    dynamo.destroy();
    await Promise.all(started.map((e) => e.stop()));
  }
}

const argsSchema = z.object({
  requests: z.coerce.number().int().positive().optional(),
  concurrency: z.coerce.number().int().positive().optional(),
  rounds: z.coerce.number().int().positive().optional(),
  latency: z.coerce.number().int().min(0).optional(),
  stream: z.boolean().optional(),
  store: z.enum(['dynamodb', 'memory']).optional(),
  lease: z.coerce.number().int().min(0).optional(),
});

if (require.main === module) {
  const raw: Record<string, unknown> = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--stream') raw['stream'] = true;
    else if (arg.startsWith('--')) raw[arg.slice(2)] = argv[(i += 1)];
  }
  const parsed = argsSchema.strict().safeParse(raw);
  if (!parsed.success) {
    process.stderr.write(`Invalid arguments: ${describeIssues(parsed.error)}; usage: npx tsx bench/gateway/run.ts [--requests N] [--concurrency N] [--rounds N] [--latency MS] [--stream] [--store dynamodb|memory] [--lease MS]\n`);
    process.exit(2);
  }
  const a = parsed.data;
  runGatewayBench({
    ...(a.requests !== undefined ? { requests: a.requests } : {}),
    ...(a.concurrency !== undefined ? { concurrency: a.concurrency } : {}),
    ...(a.rounds !== undefined ? { rounds: a.rounds } : {}),
    ...(a.latency !== undefined ? { modelLatencyMs: a.latency } : {}),
    ...(a.stream !== undefined ? { stream: a.stream } : {}),
    ...(a.store !== undefined ? { store: a.store } : {}),
    ...(a.lease !== undefined ? { leaseHorizonMs: a.lease } : {}),
  })
    .then((result) => {
      for (const row of result.rows) process.stdout.write(`${row.bench}\n  ${row.measured} vs ${row.baseline} = ${row.ratio}${row.note !== undefined ? ` (${row.note})` : ''}\n`);
      process.stdout.write(`${JSON.stringify({ direct: result.direct, gateway: result.gateway, throughputRatio: result.throughputRatio, addedP50Ms: result.addedP50Ms, addedP99Ms: result.addedP99Ms })}\n`);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
