/**
 * npm run promote -- --repository <name> (--tag <tag> | --digest sha256:…) --stage <dev|staging|prod>
 *                    [--region <region>] [--registry-id <account>] [--wait <seconds>] [--json]
 *
 * Resolves the tag to its digest in ECR, refuses it while its scan is pending, failed or has
 * CRITICAL findings, and prints the exact `npx cdk deploy` command for the stage. It deploys
 * nothing itself: the release workflow (or an operator) runs the printed command.
 * Exit codes: 0 plan printed, 1 refused, 2 bad arguments.
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { PROMOTE_STAGES, PromoteError, planPromotion, type PromotePlan } from './promote';

const USAGE = 'usage: npm run promote -- --repository <name> (--tag <tag> | --digest sha256:<hex>) --stage <dev|staging|prod> [--region <r>] [--registry-id <account>] [--wait <seconds>] [--json]';

const argsSchema = z.object({
  repository: z.string().regex(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/, 'must be an ECR repository name such as openclaw/runtime'),
  tag: z.string().min(1).optional(),
  digest: z.string().optional(),
  stage: z.enum(PROMOTE_STAGES),
  region: z.string().min(1).optional(),
  'registry-id': z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account ID').optional(),
  wait: z.coerce.number().int().min(0).max(3600).optional(),
  json: z.boolean().optional(),
});

function render(plan: PromotePlan): string {
  const lines = [
    `image    ${plan.repository}@${plan.digest}${plan.tag === undefined ? '' : `  (tag ${plan.tag})`}`,
    ...plan.scans.map((s) => {
      const counts = Object.entries(s.severityCounts).map(([k, v]) => `${k}=${v}`).join(' ') || 'no findings';
      return `scan     ${s.platform ?? 'image'} ${s.status}: ${counts}`;
    }),
    `stage    ${plan.stage}`,
    '',
    plan.command,
  ];
  return `${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        repository: { type: 'string' },
        tag: { type: 'string' },
        digest: { type: 'string' },
        stage: { type: 'string' },
        region: { type: 'string' },
        'registry-id': { type: 'string' },
        wait: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
    parsed = argsSchema.parse(values);
  } catch (err) {
    const detail = err instanceof z.ZodError ? err.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('\n') : err instanceof Error ? err.message : String(err);
    process.stderr.write(`${detail}\n${USAGE}\n`);
    return 2;
  }
  const ecr = new ECRClient(parsed.region === undefined ? {} : { region: parsed.region });
  try {
    const plan = await planPromotion(ecr, {
      repository: parsed.repository,
      stage: parsed.stage,
      ...(parsed.tag === undefined ? {} : { tag: parsed.tag }),
      ...(parsed.digest === undefined ? {} : { digest: parsed.digest }),
      ...(parsed['registry-id'] === undefined ? {} : { registryId: parsed['registry-id'] }),
    }, parsed.wait === undefined ? {} : { waitForScanMs: parsed.wait * 1000 });
    process.stdout.write(parsed.json === true ? `${JSON.stringify(plan, null, 2)}\n` : render(plan));
    return 0;
  } catch (err) {
    if (err instanceof PromoteError) {
      process.stderr.write(`promote refused (${err.type}): ${err.message}\n`);
      return err.type === 'bad_request' ? 2 : 1;
    }
    throw err;
  } finally {
    ecr.destroy();
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

export { main as promoteCli };
