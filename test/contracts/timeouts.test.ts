/**
 * Timeouts on both sides of the template/runtime join, read from the synthesized staging and prod
 * templates and from the runtime's own config parsers (env from the task definition, else the
 * schema's default) — no number copied by hand. Each relation is a named check; a failure prints
 * both numbers and where each came from. AWS's own defaults, used when the template leaves a
 * setting unset, are the only constants here, each with its source.
 */
import { loadGatewayConfig, loadIntakeConfig, loadWorkerConfig, ENV } from '../../runtime/src/shared/config';

type Env = Record<string, string | undefined>;
import { silentLogger } from '../../runtime/src/shared/logger';
import { listen } from '../../runtime/src/shared/http';
import { MODEL_CALL_TIMEOUT_MS } from '../../runtime/src/worker/model-client';
import { resourcesOf, synthStage } from '../lib/support/synth-stage';
import { standInFor } from './support/env-stand-in';

/** AWS defaults when a template omits the setting (documented service defaults). */
const AWS_DEFAULTS = {
  /** ECS ServiceConnectTimeoutConfiguration.PerRequestTimeoutSeconds for HTTP. */
  serviceConnectPerRequestS: 15,
  /** ECS ServiceConnectTimeoutConfiguration.IdleTimeoutSeconds for HTTP. */
  serviceConnectIdleS: 300,
  /** ELBv2 attribute idle_timeout.timeout_seconds. */
  albIdleS: 60,
  /** ECS container StopTimeout on Fargate. */
  stopTimeoutS: 30,
} as const;

interface Quantity {
  readonly ms: number;
  readonly from: string;
}

/** A named relation between two quantities; fails with both numbers and their sources. */
function check(name: string, left: Quantity, op: '<' | '<=' | '>=' | '==', right: Quantity): string | undefined {
  const ok = op === '<' ? left.ms < right.ms : op === '<=' ? left.ms <= right.ms : op === '>=' ? left.ms >= right.ms : left.ms === right.ms;
  return ok ? undefined : `${name}: ${left.ms} ms (${left.from}) must be ${op} ${right.ms} ms (${right.from})`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, read by path
type Container = Record<string, any>;

function setup(stage: 'staging' | 'prod') {
  const { json } = synthStage(stage);
  // The stable pools; an agent canary's candidate pool (logical IDs under Canary) runs the same construct.
  const containers = resourcesOf(json.services, 'AWS::ECS::TaskDefinition')
    .filter(([id]) => !id.startsWith('Canary'))
    .map(([, p]) => (p['ContainerDefinitions'] as Container[])[0] as Container);
  const container = (role: string): Container => {
    const c = containers.find((x) => x['Name'] === role);
    if (c === undefined) throw new Error(`no ${role} container in ${stage}/Services`);
    return c;
  };
  const where = (role: string, path: string) => `${stage}/Services ${role} container ${path}`;
  /** The container's environment with CloudFormation tokens replaced by well-formed stand-ins. */
  const env = (role: string): Env => {
    const out: Record<string, string> = {};
    for (const { Name, Value } of container(role)['Environment'] as Array<{ Name: string; Value: unknown }>) {
      out[Name] = standInFor(Name, Value, '111111111111');
    }
    return out;
  };
  const fromEnv = (role: string, key: string, def: string) => (env(role)[key] === undefined ? `runtime default of ${key} (${def})` : `${where(role, `Environment ${key}`)}`);
  const stopTimeout = (role: string): Quantity => {
    const s = container(role)['StopTimeout'] as number | undefined;
    return s === undefined ? { ms: AWS_DEFAULTS.stopTimeoutS * 1000, from: `AWS default StopTimeout (${role} sets none)` } : { ms: s * 1000, from: where(role, 'StopTimeout') };
  };
  return { json, container, where, env, fromEnv, stopTimeout };
}

describe.each(['staging', 'prod'] as const)('timeouts, stage %s', (stage) => {
  const t = setup(stage);
  const worker = loadWorkerConfig(t.env('worker'));
  const gateway = loadGatewayConfig(t.env('gateway'));
  loadIntakeConfig(t.env('intake'));

  test('sqs-visibility-vs-worker-heartbeat: the lanes\' visibility equals the worker\'s, and a heartbeat renews it at least twice per period', () => {
    const lanes = resourcesOf(t.json.data, 'AWS::SQS::Queue').filter(([, p]) => p['RedrivePolicy'] !== undefined);
    expect(lanes).toHaveLength(2);
    const worker_vis: Quantity = { ms: worker.durability.visibilityTimeoutSeconds * 1000, from: t.fromEnv('worker', ENV.visibilityTimeoutSeconds, 'config.ts') };
    const heartbeat: Quantity =
      worker.durability.heartbeatMs !== undefined
        ? { ms: worker.durability.heartbeatMs, from: t.fromEnv('worker', ENV.heartbeatMs, 'config.ts') }
        : {
            ms: Math.min((worker.durability.visibilityTimeoutSeconds * 1000) / 3, worker.durability.leaseMs / 4),
            from: 'worker consumer default min(visibility / 3, lease / 4) (runtime/src/worker/consumer.ts)',
          };
    const failures = lanes.flatMap(([id, p]) => {
      const vis: Quantity = { ms: (p['VisibilityTimeout'] as number) * 1000, from: `${stage}/Data ${id}.VisibilityTimeout` };
      return [check('sqs-visibility-equals-worker', vis, '==', worker_vis), check('sqs-visibility-vs-worker-heartbeat', { ms: heartbeat.ms * 2, from: `2 x ${heartbeat.from}` }, '<=', vis)];
    });
    expect(failures.filter((f) => f !== undefined)).toEqual([]);
  });

  test('ecs-stop-vs-worker-drain and ecs-stop-vs-gateway-drain: each drain ends before SIGKILL', () => {
    const failures = [
      check('ecs-stop-vs-worker-drain', { ms: worker.durability.drainTimeoutMs, from: t.fromEnv('worker', ENV.drainTimeoutMs, 'config.ts') }, '<', t.stopTimeout('worker')),
      check('ecs-stop-vs-gateway-drain', { ms: gateway.drainMs, from: t.fromEnv('gateway', ENV.gatewayDrainMs, 'config.ts') }, '<', t.stopTimeout('gateway')),
    ];
    expect(failures.filter((f) => f !== undefined)).toEqual([]);
  });

  test('alb-idle-vs-intake-keepalive and deregistration-vs-intake-stop: the ALB never reuses a socket the intake closed, and stops sending before SIGTERM ends the task', async () => {
    const albAttrs = resourcesOf(t.json.services, 'AWS::ElasticLoadBalancingV2::LoadBalancer').flatMap(([, p]) => p['LoadBalancerAttributes'] as Array<{ Key: string; Value: string }>);
    const idle = albAttrs.find((a) => a.Key === 'idle_timeout.timeout_seconds');
    const albIdle: Quantity = idle === undefined ? { ms: AWS_DEFAULTS.albIdleS * 1000, from: 'AWS default ALB idle timeout (template sets none)' } : { ms: Number(idle.Value) * 1000, from: `${stage}/Services ALB idle_timeout.timeout_seconds` };
    const running = await listen(async (_req, res) => void res.end(), 0, silentLogger, '127.0.0.1');
    const keepAlive: Quantity = { ms: running.server.keepAliveTimeout, from: 'intake server keepAliveTimeout (runtime/src/shared/http.ts listen)' };
    await running.close();
    const groups = resourcesOf(t.json.services, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(groups.length).toBeGreaterThan(0);
    const failures = [
      check('alb-idle-vs-intake-keepalive', albIdle, '<', keepAlive),
      ...groups.map(([id, p]) => {
        const attr = (p['TargetGroupAttributes'] as Array<{ Key: string; Value: string }> | undefined)?.find((a) => a.Key === 'deregistration_delay.timeout_seconds');
        const delay: Quantity = { ms: Number(attr?.Value ?? 300) * 1000, from: attr === undefined ? 'AWS default deregistration delay 300 s' : `${stage}/Services ${id} deregistration_delay.timeout_seconds` };
        // ECS waits the deregistration delay before SIGTERM; a delay above Fargate's 120 s stop budget only slows deploys, one below the ALB idle timeout can cut a kept-alive request.
        return check('deregistration-vs-alb-idle', delay, '<=', { ms: 120_000, from: 'Fargate stop budget (120 s)' }) ?? check('deregistration-vs-intake-stop', delay, '>=', t.stopTimeout('intake'));
      }),
    ];
    expect(failures.filter((f) => f !== undefined)).toEqual([]);
  });

  test('health-window-vs-longest-stall: the worker container is replaced only after more than two missed heartbeats', () => {
    const hc = t.container('worker')['HealthCheck'] as { Interval: number; Retries: number; Timeout: number };
    const window: Quantity = { ms: (hc.Interval * hc.Retries + hc.Timeout) * 1000, from: `${t.where('worker', 'HealthCheck')} interval x retries + timeout` };
    const heartbeat = worker.durability.heartbeatMs ?? Math.min((worker.durability.visibilityTimeoutSeconds * 1000) / 3, worker.durability.leaseMs / 4);
    const stall: Quantity = { ms: 2 * heartbeat, from: '2 x the worker heartbeat (a renewal may fail once and be retried)' };
    expect([check('health-window-vs-longest-stall', window, '>=', stall)].filter((f) => f !== undefined)).toEqual([]);
  });

  test('service-connect-vs-gateway: a queued wait plus a whole model call fits the per-request timeout, and the longest silence fits the idle timeout', () => {
    const services = resourcesOf(t.json.services, 'AWS::ECS::Service').filter(([, p]) => p['ServiceConnectConfiguration']?.['Services'] !== undefined);
    expect(services).toHaveLength(1);
    const sc = (services[0]?.[1]['ServiceConnectConfiguration']['Services'] as Container[])[0] ?? {};
    const perRequestS = sc['Timeout']?.['PerRequestTimeoutSeconds'] as number | undefined;
    const idleS = sc['Timeout']?.['IdleTimeoutSeconds'] as number | undefined;
    const perRequest: Quantity =
      perRequestS === undefined ? { ms: AWS_DEFAULTS.serviceConnectPerRequestS * 1000, from: 'AWS default Service Connect per-request timeout (template sets none)' } : { ms: perRequestS === 0 ? Infinity : perRequestS * 1000, from: `${stage}/Services gateway ServiceConnect Timeout.PerRequestTimeoutSeconds=${perRequestS}` };
    const idle: Quantity = idleS === undefined ? { ms: AWS_DEFAULTS.serviceConnectIdleS * 1000, from: 'AWS default Service Connect idle timeout (template sets none)' } : { ms: idleS === 0 ? Infinity : idleS * 1000, from: `${stage}/Services gateway ServiceConnect Timeout.IdleTimeoutSeconds=${idleS}` };
    const longestCall: Quantity = { ms: gateway.limits.queue.maxWaitMs + MODEL_CALL_TIMEOUT_MS, from: 'gateway queue.maxWaitMs (GATEWAY_LIMITS/default) + worker model-call timeout (model-client.ts)' };
    const longestSilence: Quantity = {
      ms: Math.max(gateway.limits.queue.maxWaitMs + gateway.limits.upstreamTimeoutMs, gateway.limits.upstreamIdleTimeoutMs),
      from: 'gateway max(queue.maxWaitMs + upstreamTimeoutMs, upstreamIdleTimeoutMs) (GATEWAY_LIMITS/default)',
    };
    const failures = [check('service-connect-per-request-vs-gateway-call', perRequest, '>=', longestCall), check('service-connect-idle-vs-gateway-silence', idle, '>=', longestSilence)];
    expect(failures.filter((f) => f !== undefined)).toEqual([]);
  });
});

describe('timeout check control', () => {
  test('GIVEN two numbers that break a relation WHEN checked THEN the message names the check, both numbers and both sources', () => {
    expect(check('ecs-stop-vs-worker-drain', { ms: 130_000, from: 'env DRAIN_TIMEOUT_MS' }, '<', { ms: 120_000, from: 'StopTimeout' })).toBe(
      'ecs-stop-vs-worker-drain: 130000 ms (env DRAIN_TIMEOUT_MS) must be < 120000 ms (StopTimeout)',
    );
  });
});
