import { loadGatewayConfig, ENV } from '../../../runtime/src/shared/config';
import { startGatewayProcess, type GatewayProcess } from '../../../tools/local/service-process';
import { resourcesOf, synthStage } from '../../lib/support/synth-stage';
import { postMessage } from './harness';
import { readText, startSlowUpstream, type SlowUpstream } from './slow-upstream';

/** The gateway's stop timeout and drain budget as the prod template sets them. */
function fromTemplate(): { stopTimeoutS: number; env: Record<string, string> } {
  const services = synthStage('prod').json.services;
  const container = resourcesOf(services, 'AWS::ECS::TaskDefinition')
    .map(([, p]) => p['ContainerDefinitions'][0] as Record<string, unknown>)
    .find((c) => c['Name'] === 'gateway');
  if (container === undefined) throw new Error('no gateway container in the prod template');
  // Values that are CloudFormation references (table names, ARNs) are left out: the runtime gets stand-ins.
  const env = Object.fromEntries((container['Environment'] as { Name: string; Value: unknown }[]).filter((e) => typeof e.Value === 'string').map((e) => [e.Name, e.Value as string]));
  return { stopTimeoutS: Number(container['StopTimeout']), env };
}

describe('gateway drain on SIGTERM (the process as deployed)', () => {
  let upstream: SlowUpstream;
  let template: ReturnType<typeof fromTemplate>;
  const running: GatewayProcess[] = [];

  beforeAll(async () => {
    template = fromTemplate();
    upstream = await startSlowUpstream();
  }, 120_000);
  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    await upstream.close();
  });

  it('GIVEN the prod template WHEN the gateway reads its drain budget THEN it ends before ECS sends SIGKILL', () => {
    expect(template.stopTimeoutS).toBeGreaterThan(0);
    const config = loadGatewayConfig({ ...template.env, [ENV.region]: 'us-east-1', [ENV.tasksTable]: 'tasks', [ENV.gatewayTable]: 'gateway' });
    expect(String(config.drainMs)).toBe(template.env[ENV.gatewayDrainMs]);
    expect(config.drainMs).toBeLessThan(template.stopTimeoutS * 1000);
    // Leaves room to flush telemetry and exit, but not so much that calls are cut early.
    expect(template.stopTimeoutS * 1000 - config.drainMs).toBeLessThanOrEqual(15_000);
  });

  it('GIVEN a stream and a call in flight WHEN SIGTERM arrives THEN new connections are refused, both finish whole, and the process exits 0 before its budget', async () => {
    const gw = await startGatewayProcess({ [ENV.upstreamUrl]: upstream.url, [ENV.gatewayDrainMs]: template.env[ENV.gatewayDrainMs] ?? '' });
    running.push(gw);
    upstream.next = { kind: 'stream', events: 10, everyMs: 250 };
    const stream = await postMessage(gw.url, { stream: true });
    expect(stream.status).toBe(200);
    const streamText = readText(stream);
    upstream.next = { kind: 'json', delayMs: 1500 };
    const call = postMessage(gw.url);
    await new Promise((r) => setTimeout(r, 300));

    const signalledAt = Date.now();
    gw.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await expect(fetch(`${gw.url}/health`)).rejects.toThrow();

    const text = await streamText;
    expect(text).toContain('part10');
    expect(text).toContain('message_stop');
    const reply = await call;
    expect(reply.status).toBe(200);
    expect(await reply.json()).toMatchObject({ content: [{ text: 'slow hello' }] });
    const exit = await gw.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(Number(template.env[ENV.gatewayDrainMs]));
    expect(gw.logs.find((l) => l['event'] === 'gateway.drained')).toMatchObject({ drained: true, cut: 0 });
  }, 60_000);

  it('GIVEN a stream that outlives the budget WHEN SIGTERM arrives THEN it is cut only when the budget runs out and the process still exits', async () => {
    const budgetMs = 1500;
    const gw = await startGatewayProcess({ [ENV.upstreamUrl]: upstream.url, [ENV.gatewayDrainMs]: String(budgetMs) });
    running.push(gw);
    upstream.next = { kind: 'stall-stream' };
    const stream = await postMessage(gw.url, { stream: true });
    const body = readText(stream).then(
      () => 'ended',
      () => 'cut',
    );
    const signalledAt = Date.now();
    gw.kill('SIGTERM');
    expect(await body).toBe('cut');
    const cutAfter = Date.now() - signalledAt;
    expect(cutAfter).toBeGreaterThanOrEqual(budgetMs - 50);
    expect(await gw.exited).toEqual({ code: 0, signal: null });
    expect(gw.logs.find((l) => l['event'] === 'gateway.drained')).toMatchObject({ drained: false, cut: 1 });
  }, 60_000);
});
