import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors';
import { parsePriceTable, type PriceTable } from './model-profiles';

/**
 * The observability part of the environment contract, shared by the three services and parsed
 * once in each main. The ECS task definitions set OTEL_EXPORTER_OTLP_ENDPOINT to the ADOT
 * sidecar (http://localhost:4318); without it spans are not exported.
 */
export const OBSERVABILITY_ENV = {
  stage: 'STAGE',
  otlpEndpoint: 'OTEL_EXPORTER_OTLP_ENDPOINT',
  promptsDir: 'PROMPTS_DIR',
  modelPrices: 'MODEL_PRICES',
} as const;

export interface ObservabilityConfig {
  readonly stage: string;
  /** OTLP/HTTP base URL of the collector; unset disables export. */
  readonly otlpEndpoint?: string;
  /** Directory of the prompt files (worker only); unset: look in ./prompts, then next to the bundle. */
  readonly promptsDir?: string;
  /** Prices and context windows per model prefix, defaults merged with MODEL_PRICES. */
  readonly prices: PriceTable;
}

const schema = z.object({
  [OBSERVABILITY_ENV.stage]: z.string().min(1).default('local'),
  [OBSERVABILITY_ENV.otlpEndpoint]: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://localhost:4318' }).optional(),
  [OBSERVABILITY_ENV.promptsDir]: z.string().min(1).optional(),
  [OBSERVABILITY_ENV.modelPrices]: z.string().optional(),
});

/** Where the worker looks for prompts: PROMPTS_DIR alone when set, else the checkout's and the bundle's. */
export function promptDirectories(config: ObservabilityConfig, cwd: string, bundleDir: string): string[] {
  return config.promptsDir !== undefined ? [config.promptsDir] : [join(cwd, 'prompts'), join(bundleDir, 'prompts')];
}

export function loadObservabilityConfig(env: Readonly<Record<string, string | undefined>>): ObservabilityConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? '(root)');
      return `${key}=${JSON.stringify(env[key] ?? 'unset')}: ${i.message}`;
    });
    throw new ConfigError(`Invalid observability configuration; set these environment variables:\n  ${lines.join('\n  ')}`, {
      keys: parsed.error.issues.map((i) => String(i.path[0] ?? '')),
    });
  }
  const raw = parsed.data;
  const endpoint = raw[OBSERVABILITY_ENV.otlpEndpoint];
  const promptsDir = raw[OBSERVABILITY_ENV.promptsDir];
  return {
    stage: raw[OBSERVABILITY_ENV.stage],
    ...(endpoint !== undefined ? { otlpEndpoint: endpoint } : {}),
    ...(promptsDir !== undefined ? { promptsDir } : {}),
    prices: parsePriceTable(raw[OBSERVABILITY_ENV.modelPrices], OBSERVABILITY_ENV.modelPrices),
  };
}
