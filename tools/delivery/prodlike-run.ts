/**
 * `npm run prodlike` (via tools/delivery/prodlike.sh, which builds the bundles first): the bundles run
 * the way the image runs them, without Docker, then the end-to-end flow must pass.
 *
 * Each service runs as `tini -- node dist/<role>.js` (tini is PID 1, as in the image) inside
 * bubblewrap: read-only root, a private tmpfs /tmp, uid/gid 1000, its own PID namespace, the
 * image's environment only, and a cgroup v1 memory limit of 512 MiB (OOM-killed with 137 like ECS).
 * The bundles are copied to a directory with no node_modules above it, so a dependency that was
 * not bundled fails here as it would in the image. DynamoDB Local, fauxqs and the stub model run
 * outside the sandbox, as AWS and Anthropic do. Exits non-zero if any check fails.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hashApiKey } from '../../runtime/src/shared/api-keys';
import { runTaskFlow } from './task-flow';
import { gatewayEnv, intakeEnv, workerEnv, type EmulatorEndpoints } from './service-env';
import { startServiceProcess, type ServiceProcess } from './service-process';
import { freePort, node22Binary, startDynamoDbLocal, startFauxqs, type RunningEmulator } from '../local/emulators';
import { provisionLocalResources, type LocalResources } from '../local/provision';
import { startStubModel, type StubModel } from '../local/stub-model';

const ROOT = join(__dirname, '..', '..');
const MEMORY_LIMIT_BYTES = 512 * 1024 * 1024;
const CGROUP_MEMORY = '/sys/fs/cgroup/memory';
const TINI = '/usr/bin/tini';
const ROLES = ['gateway', 'worker', 'intake'] as const;
type Role = (typeof ROLES)[number];

class ProdlikeError extends Error {}

interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const checks: Check[] = [];
const t0 = Date.now();
function progress(what: string): void {
  process.stdout.write(`      [${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}\n`);
}
function record(name: string, ok: boolean, detail: string): void {
  checks.push({ name, ok, detail });
  process.stdout.write(`${ok ? 'PASS' : 'FAIL'}  [${((Date.now() - t0) / 1000).toFixed(1)}s] ${name}: ${detail}\n`);
}

function preflight(): void {
  const fix: string[] = [];
  if (process.getuid?.() !== 0) fix.push('run as root (the cgroup memory limit and the uid mapping need it), or use compose.prod-like.yml with Docker');
  if (!existsSync('/usr/bin/bwrap')) fix.push('install bubblewrap: apt-get install -y bubblewrap');
  if (!existsSync(TINI)) fix.push('install tini: apt-get install -y tini');
  if (!existsSync(join(CGROUP_MEMORY, 'memory.limit_in_bytes'))) fix.push(`a cgroup v1 memory hierarchy at ${CGROUP_MEMORY} (this host has none)`);
  for (const f of ['intake', 'worker', 'gateway', 'healthcheck']) if (!existsSync(join(ROOT, 'dist', `${f}.js`))) fix.push(`dist/${f}.js: run node tools/bundle.mjs`);
  if (fix.length > 0) throw new ProdlikeError(`prod-like run cannot start:\n  - ${fix.join('\n  - ')}`);
}

/** The image's /app: only dist/, under a path with no node_modules above it. */
function stageApp(): string {
  for (const dir of ['/node_modules', '/var/node_modules', '/var/tmp/node_modules']) {
    if (existsSync(dir)) throw new ProdlikeError(`${dir} exists and would let Node resolve packages the bundles should contain; remove it`);
  }
  const base = mkdtempSync('/var/tmp/openclaw-prodlike-');
  mkdirSync(join(base, 'app'));
  // Everything the image's COPY takes: bundles, maps and dist/prompts.
  cpSync(join(ROOT, 'dist'), join(base, 'app', 'dist'), { recursive: true });
  return base;
}

interface Sandbox {
  readonly cgroup: string;
  readonly command: [string, ...string[]];
}

const cgroups: string[] = [];

function cgroup(name: string): string {
  const path = join(CGROUP_MEMORY, `openclaw-prodlike-${process.pid}-${name}`);
  mkdirSync(path);
  writeFileSync(join(path, 'memory.limit_in_bytes'), String(MEMORY_LIMIT_BYTES));
  // Without the swap limit too, a host with swap would page instead of OOM-killing.
  if (existsSync(join(path, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(path, 'memory.memsw.limit_in_bytes'), String(MEMORY_LIMIT_BYTES));
  cgroups.push(path);
  return path;
}

/** `sh` joins the cgroup before exec'ing bwrap, so every process of the sandbox is limited from the start. */
function sandbox(appDir: string, name: string, argv: readonly string[], cg: string = cgroup(name)): Sandbox {
  const bwrap = [
    'bwrap',
    '--ro-bind', '/', '/',
    '--tmpfs', '/tmp',
    '--dev', '/dev',
    '--proc', '/proc',
    '--unshare-user', '--uid', '1000', '--gid', '1000',
    '--unshare-pid', '--as-pid-1',
    '--unshare-ipc', '--unshare-uts',
    '--chdir', join(appDir, 'app'),
    '--',
    TINI, '--', ...argv,
  ];
  return { cgroup: cg, command: ['sh', '-c', 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', 'sh', cg, ...bwrap] };
}

/** Node 22.22 under the name `node`, as on the image's PATH. */
const PATH_ENV = { PATH: `${dirname(node22Binary())}:/usr/bin:/bin` };

function run(box: Sandbox, env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve) => {
    const [program, ...args] = box.command;
    const child = spawn(program, args, { env: { ...PATH_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

/** The host PID of the sandbox's init (tini): bwrap does not forward signals, Docker signals PID 1. */
function tiniPid(child: ChildProcess): number | undefined {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // exited while scanning
    }
  }
  const queue = [child.pid ?? -1];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const [p, pp] of parents) {
      if (pp !== pid) continue;
      try {
        if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'tini') return p;
      } catch {
        // exited
      }
      queue.push(p);
    }
  }
  return undefined;
}

const PROBE = `
const fs = require('fs');
const r = { uid: process.getuid(), gid: process.getgid(), pid: process.pid };
for (const p of ['/etc/openclaw-probe', process.cwd() + '/probe', 'dist/probe', '/tmp/probe']) {
  try { fs.writeFileSync(p, 'x'); fs.rmSync(p); r[p] = 'writable'; } catch (e) { r[p] = e.code; }
}
const line = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\\n').find((l) => /:memory:/.test(l)) || '';
r.memoryLimit = Number(fs.readFileSync('/sys/fs/cgroup/memory' + line.split(':')[2] + '/memory.limit_in_bytes', 'utf8'));
r.pid1 = fs.readFileSync('/proc/1/cmdline', 'utf8').split('\\0').filter(Boolean).join(' ');
console.log(JSON.stringify(r));
`;

async function checkSandbox(appDir: string): Promise<void> {
  const probe = await run(sandbox(appDir, 'probe', ['node', '-e', PROBE]), {}, 20_000);
  const facts = JSON.parse(probe.out.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  const cwd = `${join(appDir, 'app')}/probe`;
  record('non-root user', facts['uid'] === 1000 && facts['gid'] === 1000, `uid=${String(facts['uid'])} gid=${String(facts['gid'])}`);
  record('read-only root', facts['/etc/openclaw-probe'] === 'EROFS' && facts[cwd] === 'EROFS' && facts['dist/probe'] === 'EROFS', `/etc ${String(facts['/etc/openclaw-probe'])}, /app ${String(facts[cwd])}, /app/dist ${String(facts['dist/probe'])}`);
  record('writable tmpfs /tmp', facts['/tmp/probe'] === 'writable', `/tmp ${String(facts['/tmp/probe'])}`);
  record('tini is PID 1', facts['pid'] !== 1 && /^\/usr\/bin\/tini -- node/.test(String(facts['pid1'])), `PID 1 = ${String(facts['pid1']).split(' ').slice(0, 4).join(' ')} …`);
  record('memory limit', facts['memoryLimit'] === MEMORY_LIMIT_BYTES, `${Number(facts['memoryLimit']) / 1024 / 1024} MiB`);
  // 700 MiB of touched Buffers (off-heap, so the V8 heap cap does not stop it first): must be OOM-killed.
  const hog = await run(sandbox(appDir, 'hog', ['node', '-e', 'const b=[];for(let i=0;i<14;i++)b.push(Buffer.alloc(50*1024*1024,1));console.log("survived")']), {}, 60_000);
  record('memory limit enforced', hog.code === 137 && !hog.out.includes('survived'), `allocating 700 MiB exited ${String(hog.code ?? hog.signal)} (137 = OOM-killed, as ECS reports it)`);
}

function peakMiB(cg: string): number {
  return Math.round(Number(readFileSync(join(cg, 'memory.max_usage_in_bytes'), 'utf8')) / 1024 / 1024);
}

async function main(): Promise<number> {
  preflight();
  const appDir = stageApp();
  const emulators: RunningEmulator[] = [];
  const services: { role: Role; svc: ServiceProcess; box: Sandbox }[] = [];
  let stub: StubModel | undefined;
  try {
    await checkSandbox(appDir);

    progress('starting DynamoDB Local, fauxqs and the stub model');
    const [ddb, sqsEmu] = await Promise.all([startDynamoDbLocal(), startFauxqs()]);
    emulators.push(ddb, sqsEmu);
    stub = await startStubModel();
    const endpoints: EmulatorEndpoints = { dynamo: ddb.endpoint, sqs: sqsEmu.endpoint };
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    const dynamo = new DynamoDBClient({ region: 'us-east-1', endpoint: ddb.endpoint, credentials });
    const sqs = new SQSClient({ region: 'us-east-1', endpoint: sqsEmu.endpoint, credentials });
    const resources: LocalResources = await provisionLocalResources(dynamo, sqs, { prefix: `prodlike-${process.pid}` });
    dynamo.destroy();
    sqs.destroy();

    progress('emulators ready and provisioned');
    const apiKey = `ocl_${randomBytes(18).toString('base64url')}`;
    const ports = { gateway: await freePort(), worker: await freePort(), intake: await freePort() };
    const envs: Record<Role, Record<string, string>> = {
      gateway: gatewayEnv({ endpoints, resources, port: ports.gateway, upstreamUrl: stub.url }),
      worker: workerEnv({ endpoints, resources, port: ports.worker, gatewayUrl: `http://127.0.0.1:${ports.gateway}`, workerId: 'prodlike-worker-1' }),
      intake: intakeEnv({ endpoints, resources, port: ports.intake, apiKeysJson: JSON.stringify([{ name: 'prodlike', sha256: hashApiKey(apiKey), maxPriority: 'high' }]) }),
    };

    for (const role of ROLES) {
      const box = sandbox(appDir, role, ['node', `dist/${role}.js`]);
      progress(`starting ${role}`);
      const svc = await startServiceProcess({ role, command: box.command, env: { ...PATH_ENV, ...envs[role] }, startTimeoutMs: 30_000, stopTarget: tiniPid });
      services.push({ role, svc, box });
      // The HEALTHCHECK runs inside the container, in its cgroup, with its environment.
      const health = await run(sandbox(appDir, `${role}-health`, ['node', 'dist/healthcheck.js', role], box.cgroup), { PORT: String(ports[role]) }, 15_000);
      record(`${role} healthy`, health.code === 0, health.out.trim());
    }

    const started = Date.now();
    const flows = await Promise.allSettled(Array.from({ length: 5 }, () => runTaskFlow({ baseUrl: `http://127.0.0.1:${ports.intake}`, apiKey, pollMs: 200, timeoutMs: 90_000 })));
    const ok = flows.filter((f) => f.status === 'fulfilled').length;
    const times = flows.flatMap((f) => (f.status === 'fulfilled' ? [f.value.elapsedMs] : [])).sort((a, b) => a - b);
    const firstError = flows.find((f): f is PromiseRejectedResult => f.status === 'rejected')?.reason as Error | undefined;
    record('end-to-end flow', ok === flows.length, `${ok}/${flows.length} tasks SUCCEEDED in ${Date.now() - started} ms (per task ${times.join(', ')} ms)${firstError === undefined ? '' : `; first failure: ${firstError.message}`}`);
    const modelCalls = stub.calls.length;
    record('model reached through the gateway', modelCalls >= flows.length * 3, `${modelCalls} stub model calls for ${flows.length} tasks`);

    for (const { role, svc, box } of [...services].reverse()) {
      const peak = peakMiB(box.cgroup);
      const stopped = await svc.stop(120_000);
      record(`${role} drains on SIGTERM`, stopped.code === 0 && stopped.signal === null, `exit ${String(stopped.code ?? stopped.signal)} after ${stopped.ms} ms; peak memory ${peak} MiB of ${MEMORY_LIMIT_BYTES / 1024 / 1024} MiB`);
    }
    services.length = 0;
  } finally {
    await Promise.all(services.map(({ svc }) => svc.stop(5000)));
    await stub?.close();
    await Promise.all(emulators.map((e) => e.stop()));
    for (const cg of cgroups) {
      try {
        rmdirSync(cg);
      } catch {
        // a process is still exiting; the kernel frees an empty cgroup when it is removed later
      }
    }
    rmSync(appDir, { recursive: true, force: true });
  }
  const failed = checks.filter((c) => !c.ok);
  process.stdout.write(`\nprodlike: ${checks.length - failed.length}/${checks.length} checks passed\n`);
  return failed.length === 0 ? 0 : 1;
}

const overall = setTimeout(() => {
  process.stderr.write('prodlike: gave up after 10 minutes\n');
  process.exit(1);
}, 600_000);
overall.unref();

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
