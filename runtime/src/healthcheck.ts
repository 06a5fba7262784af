/**
 * The container HEALTHCHECK: `node dist/healthcheck.js [intake|worker|gateway]`.
 *
 * Slim images have no curl, so the check is this script in exec form. It asks the role's own
 * `/health` endpoint on loopback and exits 0 (healthy) or 1 (unhealthy), as Docker and ECS expect.
 * The role comes from the argument, else OPENCLAW_ROLE, else PID 1's command line (tini runs
 * `node dist/<role>.js`), so the one Dockerfile HEALTHCHECK fits whichever role the command chose.
 */
import { readFileSync } from 'node:fs';
// Not './shared/config': that pulls zod into a script every task runs every 15 s.
import { PORTS } from './shared/ports';

export type Role = keyof typeof PORTS;

const ROLES = Object.keys(PORTS) as Role[];

function isRole(value: string | undefined): value is Role {
  return value !== undefined && (ROLES as string[]).includes(value);
}

/** Where the role can come from; injected so tests do not depend on this process's PID 1. */
export interface RoleSources {
  readonly arg?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** NUL-separated command line of PID 1, or undefined when unreadable (not Linux, no /proc). */
  readonly pid1Cmdline?: string;
}

/** Picks the role, or throws an error that says how to name one. */
export function resolveRole(sources: RoleSources): Role {
  const { arg, env, pid1Cmdline } = sources;
  if (arg !== undefined) {
    if (isRole(arg)) return arg;
    throw new Error(`Unknown role "${arg}": pass one of ${ROLES.join(', ')} (e.g. node dist/healthcheck.js worker)`);
  }
  const fromEnv = env['OPENCLAW_ROLE'];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (isRole(fromEnv)) return fromEnv;
    throw new Error(`OPENCLAW_ROLE="${fromEnv}" is not a role: set it to one of ${ROLES.join(', ')}`);
  }
  for (const part of (pid1Cmdline ?? '').split('\0')) {
    const match = /(?:^|\/)dist\/(\w+)\.js$/.exec(part);
    if (isRole(match?.[1])) return match[1];
  }
  throw new Error(`Cannot tell which service to check: pass the role (${ROLES.join(', ')}) as the first argument`);
}

/** The port a role listens on: PORT (as the service itself reads it) or the role's default. */
export function resolvePort(role: Role, env: Readonly<Record<string, string | undefined>>): number {
  const raw = env['PORT'];
  if (raw === undefined || raw === '') return PORTS[role];
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`PORT="${raw}" is not a usable port for the health check: set 1-65535 or unset it`);
  }
  return port;
}

export interface HealthResult {
  readonly healthy: boolean;
  readonly detail: string;
}

export interface CheckOptions {
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Must be below the HEALTHCHECK --timeout so a hung service is reported, not killed mid-check. @default 3000 */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** GET /health; healthy only on a 2xx answer within the timeout. Never throws. */
export async function checkHealth(options: CheckOptions): Promise<HealthResult> {
  const url = `http://${options.host ?? '127.0.0.1'}:${options.port}/health`;
  const doFetch = options.fetch ?? fetch;
  try {
    const res = await doFetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 3000) });
    // Drain the body so the socket closes before the process exits.
    await res.arrayBuffer();
    return { healthy: res.ok, detail: `${url} answered ${res.status}` };
  } catch (err) {
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { healthy: false, detail: `${url} unreachable (${reason})` };
  }
}

function readPid1Cmdline(): string | undefined {
  try {
    return readFileSync('/proc/1/cmdline', 'utf8');
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  try {
    const arg = process.argv[2];
    const pid1Cmdline = readPid1Cmdline();
    const role = resolveRole({ env: process.env, ...(arg === undefined ? {} : { arg }), ...(pid1Cmdline === undefined ? {} : { pid1Cmdline }) });
    const result = await checkHealth({ port: resolvePort(role, process.env) });
    (result.healthy ? process.stdout : process.stderr).write(`${role}: ${result.detail}\n`);
    return result.healthy ? 0 : 1;
  } catch (err) {
    process.stderr.write(`healthcheck: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
