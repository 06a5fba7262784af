import type { z } from 'zod';
import { describeIssues } from '../../runtime/src/shared/zod-issues';

/**
 * A bench's `--name value` flags (and the bare `--json`), validated once by `schema` (strict: an
 * unknown flag is an error). The error names what was wrong and repeats `usage`.
 */
export function parseBenchArgs<T extends z.ZodObject>(schema: T, argv: readonly string[], usage: string): z.infer<T> {
  const raw: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--json') raw['json'] = true;
    else if (arg.startsWith('--')) raw[arg.slice(2)] = argv[(i += 1)];
  }
  const parsed = schema.strict().safeParse(raw);
  if (!parsed.success) throw new Error(`Invalid arguments: ${describeIssues(parsed.error)}; usage: ${usage}`);
  return parsed.data as z.infer<T>;
}
