import { z } from 'zod';
import { parseBenchArgs } from '../support/args';
import { benchEmulators } from '../support/emulators';
import { runWorkerFleetBench } from './worker-fleet';

/** `npx tsx bench/fleet/run.ts [--workers 8] [--tasks 64] [--latency 500] [--jitter 0] [--warmup 200] [--warmup-rounds 8] [--workers-in own-processes|one-process] [--json]`: the worker fleet rows alone. */
const argsSchema = z.object({
  workers: z.coerce.number().int().min(1).max(64).default(8),
  tasks: z.coerce.number().int().min(1).max(10_000).default(64),
  latency: z.coerce.number().int().min(0).max(60_000).default(500),
  jitter: z.coerce.number().min(0).max(0.9).default(0),
  warmup: z.coerce.number().int().min(0).max(10_000).default(200),
  'warmup-rounds': z.coerce.number().int().min(0).max(50).default(8),
  'workers-in': z.enum(['own-processes', 'one-process']).default('own-processes'),
  json: z.boolean().default(false),
});

const parseArgs = (argv: readonly string[]) => parseBenchArgs(argsSchema, argv, 'npx tsx bench/fleet/run.ts [--workers N] [--tasks N] [--latency MS] [--jitter FRACTION] [--warmup TASKS_PER_ROUND] [--warmup-rounds MAX] [--workers-in own-processes|one-process] [--json]');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const emulators = await benchEmulators();
  try {
    const r = await runWorkerFleetBench({ dynamoEndpoint: emulators.dynamoEndpoint, sqsEndpoint: emulators.sqsEndpoint, workers: args.workers, tasks: args.tasks, modelLatencyMs: args.latency, latencyJitter: args.jitter, warmupTasks: args.warmup, maxWarmupRounds: args['warmup-rounds'], processes: args['workers-in'] === 'own-processes' });
    process.stdout.write(`${JSON.stringify(r, null, args.json ? 2 : undefined)}\n`);
  } finally {
    await emulators.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
