/**
 * npm run cost [-- --stage <dev|staging|prod>] [--config-dir <dir>] [--json]
 *
 * What each stage costs per month at rest (no tasks submitted), counted from its synthesized
 * templates and priced from tools/delivery/cost-prices.json (tools/delivery/cost-model.ts). A stage
 * is synthesized from `<config-dir>/<stage>.json`; without that file, staging and prod use the
 * test fixture's settings (test/lib/fixtures/config) and dev its example values, and the output
 * says so. Exit codes: 0 printed, 1 failed, 2 bad arguments.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_CONFIG_DIR, DEPLOY_STAGES, readSiteConfig, type DeployStage } from '../../lib/config';
import { costAtRest, loadPriceTable, renderStageCost, type StageCost } from './cost-model';
import { synthStageTemplates } from './synth-stage-templates';

const USAGE = 'usage: npm run cost -- [--stage <dev|staging|prod>]... [--config-dir <dir>] [--json]';
/** Settings of a made-up organisation that staging and prod accept (the tests synthesize with them). */
export const FIXTURE_CONFIG_DIR = join(__dirname, '..', '..', 'test', 'lib', 'fixtures', 'config');
/** The cost does not depend on the image. */
const ANY_DIGEST = `sha256:${'0'.repeat(64)}`;

const argsSchema = z.object({
  stage: z.array(z.enum(DEPLOY_STAGES)).optional(),
  'config-dir': z.string().min(1).optional(),
  json: z.boolean().optional(),
});

/** Which config a stage is priced with, and the sentence saying so when it is not the adopter's. */
export function configFor(stage: DeployStage, configDir: string): { readonly dir: string; readonly note?: string } {
  if (readSiteConfig(configDir, stage) !== undefined) return { dir: configDir };
  if (stage === 'dev') return { dir: configDir, note: `(no ${join(configDir, 'dev.json')}: priced with dev's example values from lib/config/stages.ts)` };
  return { dir: FIXTURE_CONFIG_DIR, note: `(no ${join(configDir, `${stage}.json`)}: priced with the test fixture's settings, test/lib/fixtures/config/${stage}.json; copy config/${stage}.example.json and rerun for yours)` };
}

export async function costCli(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  let args;
  try {
    const { values } = parseArgs({ args: [...argv], strict: true, options: { stage: { type: 'string', multiple: true }, 'config-dir': { type: 'string' }, json: { type: 'boolean' } } });
    args = argsSchema.parse(values);
  } catch (e) {
    const detail = e instanceof z.ZodError ? e.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('\n') : e instanceof Error ? e.message : String(e);
    err(`${detail}\n${USAGE}\n`);
    return 2;
  }
  const prices = loadPriceTable();
  const configDir = args['config-dir'] ?? DEFAULT_CONFIG_DIR;
  const costs: Array<StageCost & { readonly note?: string }> = [];
  for (const stage of args.stage ?? DEPLOY_STAGES) {
    const config = configFor(stage, configDir);
    const synth = synthStageTemplates(stage, { configDir: config.dir, imageDigest: ANY_DIGEST });
    const cost = costAtRest(stage, synth.region, synth.templates, prices);
    costs.push({ ...cost, ...(config.note === undefined ? {} : { note: config.note }) });
    if (args.json !== true) out(`${renderStageCost(cost, prices, config.note)}\n`);
  }
  if (args.json === true) out(`${JSON.stringify({ pricesTakenOn: prices.takenOn, assumptions: prices.assumptions, stages: costs }, null, 2)}\n`);
  return 0;
}

if (require.main === module) {
  costCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`cost failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
