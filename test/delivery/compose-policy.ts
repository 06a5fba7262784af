/**
 * Checks for the two compose files, written as functions returning findings so the tests can show
 * each one failing on a bad variant. Parsing resolves YAML merge keys (`<<: *anchor`) as compose does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const ROLES = ['intake', 'worker', 'gateway'] as const;
export type Role = (typeof ROLES)[number];

export interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly command?: string[];
  readonly user?: string;
  readonly read_only?: boolean;
  readonly tmpfs?: string[];
  readonly volumes?: string[];
  readonly environment?: Record<string, string>;
  readonly healthcheck?: { test?: string[] };
  readonly depends_on?: Record<string, { condition?: string }>;
  readonly deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
  readonly network_mode?: string;
  readonly extends?: { file: string; service: string };
  readonly cap_drop?: string[];
}

export interface ComposeFile {
  readonly services: Record<string, ComposeService>;
}

export function loadCompose(root: string, file: string): ComposeFile {
  return parse(readFileSync(join(root, file), 'utf8'), { merge: true }) as ComposeFile;
}

/** The prod sizing each prod-like service must match (from lib/config, cpu in Fargate units). */
export type ProdSizing = Readonly<Record<Role, { readonly cpu: number; readonly memoryMiB: number }>>;

/** What the prod-like file must show for every runtime service. */
export function prodLikeFindings(compose: ComposeFile, sizing: ProdSizing): string[] {
  const findings: string[] = [];
  for (const role of ROLES) {
    const svc = compose.services[role];
    if (svc === undefined) {
      findings.push(`${role}: service missing`);
      continue;
    }
    const want = sizing[role];
    if (svc.build !== undefined || (svc.volumes ?? []).length > 0) findings.push(`${role}: must run the image only (no build, no volumes)`);
    if (svc.image === undefined || !/openclaw/.test(svc.image)) findings.push(`${role}: image must be the openclaw runtime image, got ${String(svc.image)}`);
    if (JSON.stringify(svc.command) !== JSON.stringify(['node', `dist/${role}.js`])) findings.push(`${role}: command must be ["node", "dist/${role}.js"], got ${JSON.stringify(svc.command)}`);
    if (svc.read_only !== true) findings.push(`${role}: read_only must be true (ECS readonlyRootFilesystem)`);
    if (!(svc.tmpfs ?? []).some((t) => t === '/tmp' || t.startsWith('/tmp:'))) findings.push(`${role}: needs a tmpfs at /tmp`);
    if (svc.user !== '1000:1000') findings.push(`${role}: user must be "1000:1000", got ${String(svc.user)}`);
    if (!(svc.cap_drop ?? []).includes('ALL')) findings.push(`${role}: cap_drop must include ALL`);
    const limits = svc.deploy?.resources?.limits;
    const cpus = String(want.cpu / 1024);
    if (limits?.cpus !== cpus) findings.push(`${role}: deploy.resources.limits.cpus must be "${cpus}" (prod ${want.cpu} CPU units), got ${String(limits?.cpus)}`);
    if (limits?.memory !== `${want.memoryMiB}M`) findings.push(`${role}: deploy.resources.limits.memory must be "${want.memoryMiB}M" (prod memoryMiB), got ${String(limits?.memory)}`);
    const env = svc.environment ?? {};
    if (env['LOG_LEVEL'] !== 'info') findings.push(`${role}: LOG_LEVEL must be info (production logs), got ${String(env['LOG_LEVEL'])}`);
    const heap = Number(/--max-old-space-size=(\d+)/.exec(env['NODE_OPTIONS'] ?? '')?.[1] ?? 'NaN');
    if (!(heap > 0 && heap <= want.memoryMiB * 0.75)) findings.push(`${role}: NODE_OPTIONS must cap the heap at <= 75% of ${want.memoryMiB} MiB, got ${String(env['NODE_OPTIONS'])}`);
    if (JSON.stringify(svc.healthcheck?.test) !== JSON.stringify(['CMD', 'node', 'dist/healthcheck.js', role])) findings.push(`${role}: healthcheck must be ["CMD", "node", "dist/healthcheck.js", "${role}"]`);
    for (const key of ['ANTHROPIC_API_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      if (key in env) findings.push(`${role}: ${key} must not be set in a tracked compose file`);
    }
  }
  return findings;
}

/** What the dev file must show: emulators with health checks, and nothing starts before them. */
export function devFindings(compose: ComposeFile): string[] {
  const findings: string[] = [];
  const { dynamodb, fauxqs } = compose.services;
  if (dynamodb?.image === undefined || !/^amazon\/dynamodb-local:(?!latest)[\w.-]+(@sha256:[0-9a-f]{64})?$/.test(dynamodb.image)) findings.push('dynamodb: image must be amazon/dynamodb-local pinned to a version tag');
  if (fauxqs?.image === undefined || !/^kibertoad\/fauxqs:(?!latest)[\w.-]+(@sha256:[0-9a-f]{64})?$/.test(fauxqs.image)) findings.push('fauxqs: image must be kibertoad/fauxqs pinned to a version tag or digest');
  const ddbCheck = (dynamodb?.healthcheck?.test ?? []).join(' ');
  if (!/--aws-sigv4/.test(ddbCheck) || !/ListTables/.test(ddbCheck)) findings.push('dynamodb: healthcheck must make a SigV4-signed ListTables call');
  if ((fauxqs?.healthcheck?.test ?? []).length === 0) findings.push('fauxqs: healthcheck missing');
  for (const role of ROLES) {
    const svc = compose.services[role];
    if (svc === undefined) {
      findings.push(`${role}: service missing`);
      continue;
    }
    if (!(svc.volumes ?? []).some((v) => /^\.:\/src(:|$)/.test(v))) findings.push(`${role}: source must be mounted (.:/src)`);
    if (svc.environment?.['LOG_LEVEL'] !== 'debug') findings.push(`${role}: LOG_LEVEL must be debug in development`);
    if (!waitsForEmulators(compose, role)) findings.push(`${role}: must (transitively) depend on dynamodb and fauxqs being service_healthy`);
    if ((svc.healthcheck?.test ?? []).length === 0) findings.push(`${role}: healthcheck missing`);
  }
  return findings;
}

/** True when every path of depends_on from `name` reaches both emulators through a health or completion condition. */
function waitsForEmulators(compose: ComposeFile, name: string, seen = new Set<string>()): boolean {
  const reached = new Set<string>();
  const visit = (service: string) => {
    if (seen.has(service)) return;
    seen.add(service);
    for (const [dep, spec] of Object.entries(compose.services[service]?.depends_on ?? {})) {
      if (spec.condition !== 'service_healthy' && spec.condition !== 'service_completed_successfully') continue;
      if ((dep === 'dynamodb' || dep === 'fauxqs') && spec.condition === 'service_healthy') reached.add(dep);
      visit(dep);
    }
  };
  visit(name);
  return reached.has('dynamodb') && reached.has('fauxqs');
}
