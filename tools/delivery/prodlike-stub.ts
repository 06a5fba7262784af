/**
 * The stub Anthropic Messages API as a standalone process, for compose (the gateway's
 * UPSTREAM_URL points at it when no real key is configured). Listens on loopback, so compose runs
 * it in the gateway's network namespace (`network_mode: service:gateway`).
 *
 *   STUB_PORT=8095 npx tsx tools/delivery/prodlike-stub.ts
 */
import { z } from 'zod';
import { startStubModel } from '../local/stub-model';
import { createLogger } from '../../runtime/src/shared/logger';
import { describeIssues } from '../../runtime/src/shared/zod-issues';

const envSchema = z.object({
  STUB_PORT: z.coerce.number().int().min(0).max(65535).default(8095),
  STUB_LATENCY_MS: z.coerce.number().int().min(0).max(60_000).default(0),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

async function main(): Promise<void> {
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) throw new Error(`prodlike-stub: ${describeIssues(parsed.error)}`);
  const env = parsed.data;
  const logger = createLogger({ service: 'stub-model' }, { level: env.LOG_LEVEL });
  const stub = await startStubModel({ port: env.STUB_PORT, latencyMs: env.STUB_LATENCY_MS, logger });
  logger.info('stub-model.started', { url: stub.url });
  const stop = () => void stub.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
