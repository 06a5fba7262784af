import { z } from 'zod';
import { describeIssues } from '../../runtime/src/shared/zod-issues';
import { benchEmulators } from '../support/emulators';
import { runWorkerFleetBench } from './worker-fleet';

/** `npx tsx bench/fleet/run.ts [--workers 8] [--tasks 32] [--latency 500] [--jitter 0] [--json]`: the worker fleet rows alone. */
const argsSchema = z.object({
  workers: z.coerce.number().int().min(1).max(64).default(8),
  tasks: z.coerce.number().int().min(1).max(10_000).default(32),
  latency: z.coerce.number().int().min(0).max(60_000).default(500),
  jitter: z.coerce.number().min(0).max(0.9).default(0),
  json: z.boolean().default(false),
});

function parseArgs(argv: readonly string[]): z.infer<typeof argsSchema> {
  const raw: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--json') raw['json'] = true;
    else if (arg.startsWith('--')) raw[arg.slice(2)] = argv[(i += 1)];
  }
  const parsed = argsSchema.strict().safeParse(raw);
  if (!parsed.success) throw new Error(`Invalid arguments: ${describeIssues(parsed.error)}; usage: npx tsx bench/fleet/run.ts [--workers N] [--tasks N] [--latency MS] [--jitter FRACTION] [--json]`);
  return parsed.data;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const emulators = await benchEmulators();
  try {
    const r = await runWorkerFleetBench({ dynamoEndpoint: emulators.dynamoEndpoint, sqsEndpoint: emulators.sqsEndpoint, workers: args.workers, tasks: args.tasks, modelLatencyMs: args.latency, latencyJitter: args.jitter });
    process.stdout.write(`${JSON.stringify(r, null, args.json ? 2 : undefined)}\n`);
  } finally {
    await emulators.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
