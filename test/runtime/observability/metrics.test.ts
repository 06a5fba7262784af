import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EmfMetrics, InMemoryMetrics } from '../../../runtime/src/shared/metrics';
import { METRICS } from '../../../runtime/src/shared/metrics-contract';

interface EmfLine {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

function capture(): { lines: EmfLine[]; write: (line: string) => void } {
  const lines: EmfLine[] = [];
  return { lines, write: (line) => lines.push(...line.trim().split('\n').map((l) => JSON.parse(l) as EmfLine)) };
}

describe('EmfMetrics', () => {
  it('GIVEN bound Stage/Service WHEN emitting with PromptVersion and Model THEN one EMF line has the full set, the rollup, the values and the properties', async () => {
    const out = capture();
    const metrics = new EmfMetrics({ dimensions: { Stage: 'dev', Service: 'worker' }, write: out.write }).with({ PromptVersion: 'p-abc' });
    metrics.emit(
      [
        { name: METRICS.inputTokensPerTask, value: 120 },
        { name: METRICS.taskDurationMs, value: 35, unit: 'Milliseconds' },
      ],
      { Model: 'claude-sonnet-5' },
      { taskId: 't-1' },
    );
    await metrics.flush();

    expect(out.lines).toHaveLength(1);
    const line = out.lines[0] as EmfLine;
    const directive = line._aws.CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe('OpenClaw');
    expect(directive?.Dimensions).toEqual([
      ['Stage', 'Service', 'PromptVersion', 'Model'],
      ['Stage', 'Service'],
    ]);
    expect(directive?.Metrics).toEqual([
      { Name: 'InputTokensPerTask', Unit: 'Count' },
      { Name: 'TaskDurationMs', Unit: 'Milliseconds' },
    ]);
    expect(line).toMatchObject({ Stage: 'dev', Service: 'worker', PromptVersion: 'p-abc', Model: 'claude-sonnet-5', InputTokensPerTask: 120, TaskDurationMs: 35, taskId: 't-1' });
    // No ServiceName/ServiceType/LogGroup defaults from the library's environment detection.
    expect(line).not.toHaveProperty('ServiceType');
    expect(line).not.toHaveProperty('LogGroup');
  });

  it('GIVEN a finish reason or a lane WHEN emitting THEN it also gets a [Stage, Service, X] rollup for per-reason and per-lane graphs', async () => {
    const out = capture();
    const metrics = new EmfMetrics({ dimensions: { Stage: 'prod', Service: 'worker', PromptVersion: 'p-1' }, write: out.write });
    metrics.emit([{ name: METRICS.finishReason, value: 1 }], { Model: 'claude-sonnet-5', FinishReason: 'max_tokens' });
    metrics.emit([{ name: METRICS.gatewayAdmitted, value: 1 }], { Lane: 'high' });
    await metrics.flush();
    expect(out.lines.map((l) => l._aws.CloudWatchMetrics[0]?.Dimensions)).toEqual([
      [
        ['Stage', 'Service', 'PromptVersion', 'Model', 'FinishReason'],
        ['Stage', 'Service'],
        ['Stage', 'Service', 'FinishReason'],
      ],
      [
        ['Stage', 'Service', 'PromptVersion', 'Lane'],
        ['Stage', 'Service'],
        ['Stage', 'Service', 'Lane'],
      ],
    ]);
  });

  it('GIVEN only Stage, Service and a lane WHEN emitting THEN no set is repeated', async () => {
    const out = capture();
    const metrics = new EmfMetrics({ dimensions: { Stage: 'prod', Service: 'gateway' }, write: out.write });
    metrics.emit([{ name: METRICS.gatewayRejected, value: 1 }], { Lane: 'batch' });
    await metrics.flush();
    expect(out.lines[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['Stage', 'Service', 'Lane'], ['Stage', 'Service']]);
  });

  it('GIVEN only Stage and Service WHEN emitting THEN the rollup is not repeated', async () => {
    const out = capture();
    const metrics = new EmfMetrics({ dimensions: { Stage: 'prod', Service: 'intake' }, write: out.write });
    metrics.emit([{ name: METRICS.intakeAccepted, value: 1 }]);
    await metrics.flush();
    expect(out.lines[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['Stage', 'Service']]);
  });

  it('GIVEN no data WHEN emitting THEN nothing is written', async () => {
    const out = capture();
    const metrics = new EmfMetrics({ dimensions: { Stage: 'prod' }, write: out.write });
    metrics.emit([]);
    await metrics.flush();
    expect(out.lines).toEqual([]);
  });
});

describe('aws-embedded-metrics through its public API', () => {
  it('GIVEN the runtime and the CDK app THEN nothing imports the package by a deep path (lib/...)', () => {
    const root = join(__dirname, '../../..');
    const files = ['runtime', 'lib', 'tools'].flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(root, dir, f)),
    );
    const imports = files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/['"](aws-embedded-metrics[^'"]*)['"]/g)].map((m) => m[1]));
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((i) => i !== 'aws-embedded-metrics')).toEqual([]);
  });
});

describe('InMemoryMetrics', () => {
  it('GIVEN children with more dimensions WHEN emitting THEN all records land in one list and can be filtered and summed', () => {
    const root = new InMemoryMetrics().with({ Stage: 'local', Service: 'worker' });
    root.with({ Model: 'a' }).emit([{ name: METRICS.toolCallsPerTask, value: 2 }]);
    root.with({ Model: 'b' }).emit([{ name: METRICS.toolCallsPerTask, value: 3 }], { FinishReason: 'end_turn' });
    expect(root.sum(METRICS.toolCallsPerTask)).toBe(5);
    expect(root.sum(METRICS.toolCallsPerTask, { Model: 'b' })).toBe(3);
    expect(root.find(METRICS.toolCallsPerTask, { Model: 'b' })[0]?.dimensions).toEqual({ Stage: 'local', Service: 'worker', Model: 'b', FinishReason: 'end_turn' });
    expect(root.find(METRICS.tasksFailed)).toEqual([]);
  });
});
