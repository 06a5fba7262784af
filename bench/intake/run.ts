import { z } from 'zod';
import { parseBenchArgs } from '../support/args';
import { formatIntakeBench, runIntakeBench } from './intake-bench';

export { formatIntakeBench, runIntakeBench, type IntakeBenchOptions, type IntakeBenchResult } from './intake-bench';

/** `npx tsx bench/intake/run.ts [--total 2000] [--concurrency 200] [--json]` */
const argsSchema = z.object({
  total: z.coerce.number().int().min(1).max(100_000).default(2000),
  concurrency: z.coerce.number().int().min(1).max(2000).default(200),
  json: z.boolean().default(false),
});

const parseArgs = (argv: readonly string[]) => parseBenchArgs(argsSchema, argv, 'npx tsx bench/intake/run.ts [--total N] [--concurrency N] [--json]');

if (require.main === module) {
  const args = parseArgs(process.argv.slice(2));
  runIntakeBench({ total: args.total, concurrency: args.concurrency })
    .then((result) => {
      process.stdout.write(`${args.json ? JSON.stringify(result, null, 2) : formatIntakeBench(result)}\n`);
      process.exit(result.exactlyOnce.ok ? 0 : 1);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
