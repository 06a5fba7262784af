import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraConfigError } from '../errors';
import type { DeepPartial } from './merge';
import type { StageConfigInput } from './schema';

/** CDK context key naming the directory of the per-stage files (`-c configDir=...`). */
export const CONFIG_DIR_CONTEXT_KEY = 'configDir';
/** Where `config/<stage>.json` lives by default, relative to the working directory (the repo root). */
export const DEFAULT_CONFIG_DIR = 'config';

/** One stage's adopter settings, as read from its file. */
export interface SiteConfig {
  /** The file, for messages ("fix these keys in config/prod.json"). */
  readonly path: string;
  /** Keys laid over the stage's shape from lib/config/stages.ts; validated after the merge. */
  readonly values: DeepPartial<StageConfigInput>;
}

/** `<dir>/<stage>.json`, or undefined when the file does not exist. A file that is not a JSON object fails, naming it. */
export function readSiteConfig(dir: string, stage: string): SiteConfig | undefined {
  const path = join(dir, `${stage}.json`);
  if (!existsSync(path)) return undefined;
  let values: unknown;
  try {
    values = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InfraConfigError(`${path} is not valid JSON (${err instanceof Error ? err.message : String(err)}); fix the file, e.g. from ${join(dir, `${stage}.example.json`)}`, { path });
  }
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw new InfraConfigError(`${path} must hold a JSON object of stage settings, e.g. {"env": {"account": "..."}}`, { path });
  }
  const { $schema: _ignored, ...rest } = values as Record<string, unknown>;
  return { path, values: rest as DeepPartial<StageConfigInput> };
}
