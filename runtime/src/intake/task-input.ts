import { z } from 'zod';
import { PRIORITIES } from '../shared/task-model';

/** The body of POST /v1/tasks. */
export const submitTaskSchema = z
  .object({
    prompt: z.string().min(1, 'must not be empty').max(100_000, 'must be at most 100000 characters'),
    priority: z.enum(PRIORITIES).default('normal'),
    metadata: z.record(z.string().max(128), z.string().max(1024)).optional(),
    callbackUrl: z.url({ protocol: /^https$/ }).optional(),
  })
  .strict();

export type SubmitTaskInput = z.infer<typeof submitTaskSchema>;
