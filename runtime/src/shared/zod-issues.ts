import type { z } from 'zod';

/** One line per issue, `field.path: problem`, for error messages that name what to fix. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(body)'}: ${i.message}`).join('; ');
}
