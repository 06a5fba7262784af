import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadStageConfig } from '../../lib/config';
import { heapLimitMiB } from '../../lib/constructs/agent-task-definition';

/**
 * compose.prod-like.yml runs the image the way the prod stage does. This keeps its per-service
 * `deploy.resources.limits` ({ cpus, memory }) and heap cap equal to lib/config/stages.ts.
 */
const compose = parse(readFileSync(join(__dirname, '..', '..', 'compose.prod-like.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { deploy?: { resources?: { limits?: { cpus?: string | number; memory?: string } } }; environment?: Record<string, string>; read_only?: boolean; user?: string }>;
};
const prod = loadStageConfig('prod');

/** Compose memory strings ("1024M", "1g", "536870912") in MiB. */
function composeMemoryMiB(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?$/i.exec(value.trim());
  if (match === null) throw new Error(`unreadable compose memory ${JSON.stringify(value)}; use e.g. "1024M"`);
  const factor: Record<string, number> = { '': 1 / 1048576, b: 1 / 1048576, k: 1 / 1024, m: 1, g: 1024 };
  return Number(match[1]) * (factor[(match[2] ?? '').toLowerCase()] ?? NaN);
}

describe('compose.prod-like.yml matches the prod stage', () => {
  test('GIVEN memory strings WHEN parsed THEN units convert to MiB', () => {
    expect([composeMemoryMiB('1024M'), composeMemoryMiB('2g'), composeMemoryMiB('536870912'), composeMemoryMiB('512MiB')]).toEqual([1024, 2048, 512, 512]);
    expect(() => composeMemoryMiB('lots')).toThrow(/unreadable compose memory "lots"/);
  });

  test.each(['intake', 'worker', 'gateway'] as const)('GIVEN the %s service WHEN compared THEN CPU, memory and heap cap equal the prod task', (name) => {
    const service = compose.services[name];
    const limits = service?.deploy?.resources?.limits;
    expect(limits).toBeDefined();
    const sizing = prod.services[name];
    expect({ cpu: Number(limits?.cpus) * 1024, memoryMiB: composeMemoryMiB(String(limits?.memory)) }).toEqual({ cpu: sizing.cpu, memoryMiB: sizing.memoryMiB });
    expect(service?.environment?.['NODE_OPTIONS']).toContain(`--max-old-space-size=${heapLimitMiB(sizing.memoryMiB)}`);
    expect(service?.read_only).toBe(true);
    expect(String(service?.user)).toMatch(/^1000(:1000)?$/);
  });

  test.each(['intake', 'worker'] as const)('GIVEN the %s service WHEN compared THEN it keeps task data as long as prod does', (name) => {
    expect(compose.services[name]?.environment?.['TASK_RETENTION_DAYS']).toBe(String(prod.data.taskRetentionDays));
  });
});
