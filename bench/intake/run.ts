import { z } from 'zod';
import { describeIssues } from '../../runtime/src/shared/zod-issues';
import { formatIntakeBench, runIntakeBench } from './intake-bench';

export { formatIntakeBench, runIntakeBench, type IntakeBenchOptions, type IntakeBenchResult } from './intake-bench';

/** `npx tsx bench/intake/run.ts [--total 2000] [--concurrency 200] [--json]` */
const argsSchema = z.object({
  total: z.coerce.number().int().min(1).max(100_000).default(2000),
  concurrency: z.coerce.number().int().min(1).max(2000).default(200),
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
  if (!parsed.success) throw new Error(`Invalid arguments: ${describeIssues(parsed.error)}; usage: npx tsx bench/intake/run.ts [--total N] [--concurrency N] [--json]`);
  return parsed.data;
}

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
