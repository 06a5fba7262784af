import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadStageConfig } from '../../lib/config';
import { heapLimitMiB } from '../../lib/constructs/agent-task-definition';
import { freePort, node22Binary, startDynamoDbLocal, startFauxqs, type RunningEmulator } from '../../tools/local/emulators';
import { ROLES, devFindings, loadCompose, prodLikeFindings, type ComposeFile, type ProdSizing } from './compose-policy';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const dev = loadCompose(ROOT, 'compose.dev.yml');
const prodLike = loadCompose(ROOT, 'compose.prod-like.yml');
const prod = loadStageConfig('prod');
const SIZING: ProdSizing = {
  intake: prod.services.intake,
  worker: prod.services.worker,
  gateway: prod.services.gateway,
};

/** A deep copy with one change, to show a check failing for exactly that change. */
function variant(file: ComposeFile, change: (f: { services: Record<string, Record<string, unknown>> }) => void): ComposeFile {
  const copy = structuredClone(file) as unknown as { services: Record<string, Record<string, unknown>> };
  change(copy);
  return copy as unknown as ComposeFile;
}

describe('compose.prod-like.yml', () => {
  it('GIVEN the file THEN intake, worker and gateway run the image read-only as uid 1000 with the prod sizes and info logs', () => {
    expect(prodLikeFindings(prodLike, SIZING)).toEqual([]);
  });

  it('uses the exact limit format the infra test compares: cpus "<vCPU>", memory "<MiB>M"', () => {
    expect(Object.fromEntries(ROLES.map((r) => [r, prodLike.services[r]?.deploy?.resources?.limits]))).toEqual({
      intake: { cpus: String(prod.services.intake.cpu / 1024), memory: `${prod.services.intake.memoryMiB}M` },
      worker: { cpus: String(prod.services.worker.cpu / 1024), memory: `${prod.services.worker.memoryMiB}M` },
      gateway: { cpus: String(prod.services.gateway.cpu / 1024), memory: `${prod.services.gateway.memoryMiB}M` },
    });
  });

  it.each([
    ['memory differs from prod', (f: { services: Record<string, Record<string, unknown>> }) => ((f.services['worker'] as { deploy: unknown }).deploy = { resources: { limits: { cpus: '1', memory: '512M' } } }), 'worker: deploy.resources.limits.memory'],
    ['root filesystem is writable', (f: { services: Record<string, Record<string, unknown>> }) => ((f.services['intake'] as Record<string, unknown>)['read_only'] = false), 'intake: read_only'],
    ['the user is root', (f: { services: Record<string, Record<string, unknown>> }) => ((f.services['gateway'] as Record<string, unknown>)['user'] = '0:0'), 'gateway: user'],
    ['source is mounted', (f: { services: Record<string, Record<string, unknown>> }) => ((f.services['intake'] as Record<string, unknown>)['volumes'] = ['.:/src']), 'intake: must run the image only'],
    ['logs are debug', (f: { services: Record<string, Record<string, unknown>> }) => (((f.services['worker'] as { environment: Record<string, string> }).environment)['LOG_LEVEL'] = 'debug'), 'worker: LOG_LEVEL'],
    ['the heap is uncapped', (f: { services: Record<string, Record<string, unknown>> }) => (((f.services['gateway'] as { environment: Record<string, string> }).environment)['NODE_OPTIONS'] = '--enable-source-maps'), 'gateway: NODE_OPTIONS'],
    ['an API key is set', (f: { services: Record<string, Record<string, unknown>> }) => (((f.services['gateway'] as { environment: Record<string, string> }).environment)['ANTHROPIC_API_KEY'] = 'x'), 'gateway: ANTHROPIC_API_KEY'],
    ['there is no /tmp tmpfs', (f: { services: Record<string, Record<string, unknown>> }) => ((f.services['worker'] as Record<string, unknown>)['tmpfs'] = []), 'worker: needs a tmpfs'],
  ])('WHEN %s THEN the check fails', (_case, change, expected) => {
    const findings = prodLikeFindings(variant(prodLike, change), SIZING);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toContain(expected);
  });

  it('caps the heap exactly as the ECS task definition does', () => {
    for (const role of ROLES) {
      expect(prodLike.services[role]?.environment?.['NODE_OPTIONS']).toContain(`--max-old-space-size=${heapLimitMiB(SIZING[role].memoryMiB)}`);
    }
  });

  it('names the same tables and queues as compose.dev.yml', () => {
    const keys = ['TASKS_TABLE', 'GATEWAY_TABLE', 'QUEUE_URL_HIGH', 'QUEUE_URL_NORMAL', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_SQS'];
    for (const role of ROLES) {
      const pick = (f: ComposeFile) => keys.map((k) => f.services[role]?.environment?.[k]);
      expect(pick(prodLike)).toEqual(pick(dev));
    }
  });

  it('takes the emulators, provisioning and stub from compose.dev.yml', () => {
    for (const name of ['dynamodb', 'fauxqs', 'provision', 'stub-model']) {
      expect(prodLike.services[name]?.extends).toEqual({ file: 'compose.dev.yml', service: name });
    }
  });
});

describe('compose.dev.yml', () => {
  it('GIVEN the file THEN source is mounted, logs are debug, and services wait for healthy emulators', () => {
    expect(devFindings(dev)).toEqual([]);
  });

  it('runs source on the image base: the same pinned node:22-slim digest as the Dockerfile', () => {
    const dockerfileBase = /^FROM (\S+) AS runtime$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
    for (const role of ROLES) expect(dev.services[role]?.image).toBe(dockerfileBase);
  });

  it('pins fauxqs to the version the tests run (the npm package)', () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'fauxqs', 'package.json'), 'utf8')) as { version: string }).version;
    expect(dev.services['fauxqs']?.image).toBe(`kibertoad/fauxqs:${version}`);
  });

  it.each([
    ['the DynamoDB check is an unsigned GET', (f: { services: Record<string, Record<string, unknown>> }) => ((f.services['dynamodb'] as Record<string, unknown>)['healthcheck'] = { test: ['CMD-SHELL', 'curl -f http://localhost:8000/'] }), 'dynamodb: healthcheck'],
    ['fauxqs floats on latest', (f: { services: Record<string, Record<string, unknown>> }) => ((f.services['fauxqs'] as Record<string, unknown>)['image'] = 'kibertoad/fauxqs:latest'), 'fauxqs: image'],
    ['the intake only waits for the worker to start', (f: { services: Record<string, Record<string, unknown>> }) => ((f.services['intake'] as Record<string, unknown>)['depends_on'] = { worker: { condition: 'service_started' } }), 'intake: must (transitively) depend'],
    ['source is not mounted', (f: { services: Record<string, Record<string, unknown>> }) => ((f.services['worker'] as Record<string, unknown>)['volumes'] = []), 'worker: source must be mounted'],
  ])('WHEN %s THEN the check fails', (_case, change, expected) => {
    const findings = devFindings(variant(dev, change));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toContain(expected);
  });
});

describe('compose emulator health checks, run against the real emulators', () => {
  const started: RunningEmulator[] = [];
  let dynamoPort: number;
  let fauxqsPort: number;

  const portOf = (endpoint: string) => Number(new URL(endpoint).port);

  /** The jest globalSetup's shared emulator, or one of our own when this file runs alone. */
  async function endpoint(envKey: string, start: () => Promise<RunningEmulator>): Promise<string> {
    const shared = process.env[envKey];
    if (shared !== undefined) return shared;
    const emulator = await start();
    started.push(emulator);
    return emulator.endpoint;
  }

  beforeAll(async () => {
    dynamoPort = portOf(await endpoint('AWS_ENDPOINT_URL_DYNAMODB', () => startDynamoDbLocal()));
    fauxqsPort = portOf(await endpoint('AWS_ENDPOINT_URL_SQS', () => startFauxqs()));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(started.map((e) => e.stop()));
  });

  /** Runs a compose `test` array as Docker would, pointed at a port on this machine. */
  async function runCheck(test: string[] | undefined, from: string, port: number): Promise<number> {
    const [kind, ...rest] = test ?? [];
    const patch = (s: string) => s.replaceAll(from, `127.0.0.1:${port}`);
    try {
      if (kind === 'CMD-SHELL') await run('sh', ['-c', patch(rest.join(' '))], { timeout: 10_000 });
      else if (kind === 'CMD') {
        const [program, ...args] = rest.map(patch);
        // The fauxqs image runs Node 22; so does this binary.
        await run(program === 'node' ? node22Binary() : (program ?? 'false'), args, { timeout: 10_000 });
      } else throw new Error(`unsupported healthcheck form ${String(kind)}`);
      return 0;
    } catch (err) {
      return typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
    }
  }

  it('the DynamoDB Local check passes against DynamoDB Local', async () => {
    await expect(runCheck(dev.services['dynamodb']?.healthcheck?.test, 'localhost:8000', dynamoPort)).resolves.toBe(0);
  });

  it('the same call unsigned is refused by DynamoDB Local (why the check signs)', async () => {
    const unsigned = (dev.services['dynamodb']?.healthcheck?.test ?? []).map((s) => s.replace('--aws-sigv4 aws:amz:us-east-1:dynamodb --user local:local', ''));
    await expect(runCheck(unsigned, 'localhost:8000', dynamoPort)).resolves.not.toBe(0);
  });

  it('the fauxqs check passes against fauxqs', async () => {
    await expect(runCheck(dev.services['fauxqs']?.healthcheck?.test, '127.0.0.1:4566', fauxqsPort)).resolves.toBe(0);
  });

  it('both checks fail when nothing listens', async () => {
    const closed = await freePort();
    await expect(runCheck(dev.services['dynamodb']?.healthcheck?.test, 'localhost:8000', closed)).resolves.not.toBe(0);
    await expect(runCheck(dev.services['fauxqs']?.healthcheck?.test, '127.0.0.1:4566', closed)).resolves.not.toBe(0);
  });
});
