import { Agent, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable } from '../../tools/local/provision';
import { startStubModel } from '../../tools/local/stub-model';
import type { BenchRow } from '../report/table';
import { benchEmulators } from '../support/emulators';
import { startGatewayFleet, type GatewayFleet } from './fleet';

export interface ProcessOverheadOptions {
  readonly dynamoEndpoint: string;
  /** Requests per path per round. @default 2000 */
  readonly requests?: number;
  /** @default 16 */
  readonly concurrency?: number;
  /** Rounds, alternating the paths so drift on a busy machine hits all three. @default 3 */
  readonly rounds?: number;
  /** @default 2 */
  readonly replicas?: number;
}

interface Run {
  readonly latencies: number[];
  readonly elapsedMs: number;
  readonly errors: number;
  readonly cpuMs: number;
  /** CPU of this process (driver and stub) over the run. */
  readonly driverCpuMs: number;
}

export interface PathFigures {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Gateway CPU (user + system, all replicas) per request, ms. */
  readonly cpuMsPerRequest: number;
  /** CPU of the driver and the stub (one process) per request, ms. */
  readonly driverCpuMsPerRequest: number;
}

export interface ProcessOverheadResult {
  readonly direct: PathFigures;
  readonly shared: PathFigures;
  readonly memory: PathFigures;
  readonly rows: BenchRow[];
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

/**
 * The same driver for every path: node:http with a keep-alive pool of `concurrency` connections,
 * `concurrency` calls in flight, round-robin over `urls`. Cheaper than fetch, so less of the shared
 * cores goes to the driver itself.
 */
async function drive(urls: readonly string[], total: number, concurrency: number, cpu: () => number): Promise<Run> {
  const body = Buffer.from(JSON.stringify({ model: 'claude-sonnet-5', max_tokens: 64, messages: [{ role: 'user', content: 'Benchmark ping [tools:0]' }] }));
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, noDelay: true });
  const targets = urls.map((u) => new URL('/v1/messages', u));
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length), 'x-openclaw-priority': 'normal' };
  const call = (url: URL) =>
    new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', agent, headers }, (res) => {
        res.on('data', () => undefined);
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end(body);
    });
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const cpu0 = cpu();
  const driver0 = process.cpuUsage();
  const started = performance.now();
  const lane = async (k: number) => {
    while (next < total) {
      const i = next;
      next += 1;
      const url = targets[(i + k) % targets.length] as URL;
      const t0 = performance.now();
      const status = await call(url).catch(() => 0);
      latencies.push(performance.now() - t0);
      if (status !== 200) errors += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, k) => lane(k)));
  const elapsedMs = performance.now() - started;
  const driver = process.cpuUsage(driver0);
  agent.destroy();
  return { latencies, elapsedMs, errors, cpuMs: cpu() - cpu0, driverCpuMs: (driver.user + driver.system) / 1000 };
}

function figures(runs: readonly Run[]): PathFigures {
  const all = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const elapsed = runs.reduce((t, r) => t + r.elapsedMs, 0);
  const cpu = runs.reduce((t, r) => t + r.cpuMs, 0);
  const driverCpu = runs.reduce((t, r) => t + r.driverCpuMs, 0);
  return {
    driverCpuMsPerRequest: driverCpu / Math.max(1, all.length),
    requestsPerSecond: (all.length / elapsed) * 1000,
    p50Ms: percentile(all, 0.5),
    p99Ms: percentile(all, 0.99),
    errors: runs.reduce((t, r) => t + r.errors, 0),
    cpuMsPerRequest: cpu / Math.max(1, all.length),
  };
}

/**
 * The gateway's own cost as deployed: replicas in their own processes (the bundled entry point),
 * buckets and breakers shared in DynamoDB Local, a zero-latency stub model. Three paths side by
 * side in each round: straight to the stub, through the shared-state replicas, and through the
 * same replicas' build with in-memory state. Limits sit far above the offered load.
 */
export async function runProcessOverheadBench(options: ProcessOverheadOptions): Promise<ProcessOverheadResult> {
  const requests = options.requests ?? 2000;
  const concurrency = options.concurrency ?? 16;
  const rounds = options.rounds ?? 3;
  const replicas = options.replicas ?? 2;
  const raw = new DynamoDBClient({ region: 'us-east-1', endpoint: options.dynamoEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const table = `bench-gwproc-${Date.now().toString(36)}`;
  await createTable(raw, table);
  const stub = await startStubModel();
  const limits = { tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: 10_000_000, itpm: 1_000_000_000, otpm: 1_000_000_000 } } };
  const fleets: GatewayFleet[] = [];
  try {
    const shared = await startGatewayFleet({ replicas, upstreamUrl: stub.url, limits, table, dynamoEndpoint: options.dynamoEndpoint });
    fleets.push(shared);
    const memory = await startGatewayFleet({ replicas, upstreamUrl: stub.url, limits });
    fleets.push(memory);
    const none = () => 0;
    const urls = (f: GatewayFleet) => f.replicas.map((r) => r.url);
    // Warm-up: JIT, connection pools, the bucket items, a first lease.
    await drive([stub.url], 200, concurrency, none);
    await drive(urls(shared), 400, concurrency, none);
    await drive(urls(memory), 400, concurrency, none);
    const load0 = loadavg()[0] ?? 0;
    const runs = { direct: [] as Run[], shared: [] as Run[], memory: [] as Run[] };
    for (let r = 0; r < rounds; r += 1) {
      runs.direct.push(await drive([stub.url], requests, concurrency, none));
      runs.shared.push(await drive(urls(shared), requests, concurrency, () => shared.cpuMs()));
      runs.memory.push(await drive(urls(memory), requests, concurrency, () => memory.cpuMs()));
    }
    const load1 = loadavg()[0] ?? 0;
    const d = figures(runs.direct);
    const s = figures(runs.shared);
    const m = figures(runs.memory);
    const f = (n: number, digits = 1) => n.toFixed(digits);
    const label = `gateway as deployed (${replicas} processes, buckets in DynamoDB Local, leased capacity), zero-latency stub, ${concurrency} in flight, ${rounds}×${requests} calls`;
    const rows: BenchRow[] = [
      {
        bench: `${label}: added p50`,
        measured: `+${f(s.p50Ms - d.p50Ms, 2)} ms (${f(s.p50Ms, 2)} ms)`,
        baseline: `direct ${f(d.p50Ms, 2)} ms`,
        ratio: `${f(s.p50Ms / Math.max(d.p50Ms, 0.001), 2)}×`,
        note: `goal ≤ +1 ms: ${s.p50Ms - d.p50Ms <= 1 ? 'met' : 'NOT met'}; in-memory state +${f(m.p50Ms - d.p50Ms, 2)} ms`,
      },
      {
        bench: `${label}: added p99`,
        measured: `+${f(s.p99Ms - d.p99Ms, 2)} ms (${f(s.p99Ms, 2)} ms)`,
        baseline: `direct ${f(d.p99Ms, 2)} ms`,
        ratio: `${f(s.p99Ms / Math.max(d.p99Ms, 0.001), 2)}×`,
        note: `goal ≤ +5 ms: ${s.p99Ms - d.p99Ms <= 5 ? 'met' : 'NOT met'}; in-memory state +${f(m.p99Ms - d.p99Ms, 2)} ms`,
      },
      {
        bench: `${label}: throughput, shared vs in-memory state`,
        measured: `${f(s.requestsPerSecond, 0)} req/s shared`,
        baseline: `${f(m.requestsPerSecond, 0)} req/s in-memory (direct ${f(d.requestsPerSecond, 0)})`,
        ratio: `${f(s.requestsPerSecond / m.requestsPerSecond, 2)}×`,
        note: `goal ≥ 0.9×: ${s.requestsPerSecond / m.requestsPerSecond >= 0.9 ? 'met' : 'NOT met'}; errors ${s.errors}/${m.errors}/${d.errors}`,
      },
      {
        bench: `${label}: gateway CPU per request`,
        measured: `${f(s.cpuMsPerRequest, 3)} ms shared`,
        baseline: `${f(m.cpuMsPerRequest, 3)} ms in-memory`,
        ratio: `${f(s.cpuMsPerRequest / Math.max(m.cpuMsPerRequest, 0.001), 2)}×`,
        note: `user + system time of all replicas ÷ requests (/proc); driver + stub ${f(d.driverCpuMsPerRequest, 3)} ms/request direct, ${f(s.driverCpuMsPerRequest, 3)} via the gateway; ${cpus().length} cores, load average ${f(load0)} → ${f(load1)} (1 min) during the rounds`,
      },
    ];
    return { direct: d, shared: s, memory: m, rows };
  } finally {
    await Promise.all(fleets.map((fl) => fl.stop()));
    await stub.close();
    raw.destroy();
  }
}

if (require.main === module) {
  const endpoint = process.env['AWS_ENDPOINT_URL_DYNAMODB'];
  void (async () => {
    const emulators = endpoint === undefined ? await benchEmulators() : undefined;
    try {
      const result = await runProcessOverheadBench({ dynamoEndpoint: endpoint ?? emulators?.dynamoEndpoint ?? '', requests: Number(process.env['BENCH_REQUESTS'] ?? 2000) });
      for (const row of result.rows) process.stdout.write(`${row.bench}\n  ${row.measured} vs ${row.baseline} = ${row.ratio}${row.note !== undefined ? ` (${row.note})` : ''}\n`);
    } finally {
      await emulators?.stop();
    }
  })();
}
