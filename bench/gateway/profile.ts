import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable } from '../../tools/local/provision';
import { startStubModel } from '../../tools/local/stub-model';
import { benchEmulators } from '../support/emulators';
import { startGatewayFleet } from './fleet';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time per function and per source file of a .cpuprofile, largest first. */
export function summarise(profile: CpuProfile, top = 30): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const where = n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\//, '');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const pkg = where === '' ? n.callFrame.functionName : where;
    file.set(pkg, (file.get(pkg) ?? 0) + us);
  }
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return `total sampled ${(total / 1000).toFixed(0)} ms\n-- by function (self)\n${list(fn)}\n-- by file (self)\n${list(file)}`;
}

/**
 * Profile one gateway process (`node --cpu-prof`) under the process-overhead bench's load: 16 in
 * flight against a zero-latency stub, state in DynamoDB Local (or in memory with BENCH_STATE=memory).
 * Prints self time by function and by file. `npx tsx bench/gateway/profile.ts`
 */
async function main(): Promise<void> {
  const requests = Number(process.env['BENCH_REQUESTS'] ?? 6000);
  const memory = process.env['BENCH_STATE'] === 'memory';
  const dir = join('/tmp', `openclaw-gateway-prof-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const emulators = memory ? undefined : await benchEmulators();
  const stub = await startStubModel();
  const table = `bench-gwprof-${Date.now().toString(36)}`;
  if (emulators !== undefined) {
    const raw = new DynamoDBClient({ region: 'us-east-1', endpoint: emulators.dynamoEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await createTable(raw, table);
    raw.destroy();
  }
  const limits = { tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: 10_000_000, itpm: 1_000_000_000, otpm: 1_000_000_000 } } };
  const fleet = await startGatewayFleet({
    replicas: 1,
    upstreamUrl: stub.url,
    limits,
    ...(emulators !== undefined ? { table, dynamoEndpoint: emulators.dynamoEndpoint } : {}),
    extraEnv: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` },
  });
  const url = fleet.replicas[0]?.url ?? '';
  const body = JSON.stringify({ model: 'claude-sonnet-5', max_tokens: 64, messages: [{ role: 'user', content: 'Benchmark ping [tools:0]' }] });
  let next = 0;
  const cpu0 = fleet.cpuMs();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < requests) {
        next += 1;
        const res = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.arrayBuffer();
      }
    }),
  );
  const elapsed = performance.now() - t0;
  const cpu = fleet.cpuMs() - cpu0;
  await fleet.stop();
  await stub.close();
  await emulators?.stop();
  process.stdout.write(`${requests} requests in ${elapsed.toFixed(0)} ms (${((requests / elapsed) * 1000).toFixed(0)} req/s); gateway CPU ${(cpu / requests).toFixed(3)} ms/request\n`);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no profile written in ${dir}`);
  process.stdout.write(`${summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile)}\nprofile: ${join(dir, file)}\n`);
}

if (require.main === module) void main();
