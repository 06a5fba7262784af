/**
 * npm run canary -- start   --stage <s> --digest sha256:… [--prompts <dir in image>] [--model <m>] --share <percent> [--print]
 * npm run canary -- status  --stage <s>
 * npm run canary -- promote --stage <s> [--repository <name>] [--registry-id <account>] [--print]
 * npm run canary -- abort   --stage <s>
 *   common: [--region <r>] [--config-dir <dir>]
 *
 * The agent canary's commands (tools/delivery/canary.ts). `start` deploys the candidate next to the
 * stable version (or, with --print, prints that deploy; rerun start after it) and then sets its
 * share; `status` prints the share, both versions' figures over the alarm's window and the time to
 * a decision; `promote` runs the digest promotion of the candidate and sets the share to 0; `abort`
 * sets the share to 0. Exit codes: 0 done, 1 refused or failed, 2 bad arguments, 3 deploy printed.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ECRClient } from '@aws-sdk/client-ecr';
import { SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { DEFAULT_CONFIG_DIR, loadStageConfig, readSiteConfig } from '../../lib/config';
import { DEFAULT_CANARY_THRESHOLDS, type CanaryThresholds } from '../../lib/config/canary';
import { OpenClawError } from '../../runtime/src/shared/errors';
import { abortCanary, canaryStatus, CanaryCliError, formatStatus, promoteCanary, startCanary, type CanaryPorts } from './canary';
import { PROMOTE_STAGES, PromoteError } from './promote';

const USAGE = [
  'usage: npm run canary -- start --stage <stage> --digest sha256:<hex> [--prompts <dir>] [--model <model>] --share <percent> [--print]',
  '       npm run canary -- status --stage <stage>',
  '       npm run canary -- promote --stage <stage> [--repository <name>] [--registry-id <account>] [--print]',
  '       npm run canary -- abort --stage <stage>',
  '       common: [--region <region>] [--config-dir <dir>]',
].join('\n');

const COMMANDS = ['start', 'status', 'promote', 'abort'] as const;

const argsSchema = z.object({
  command: z.enum(COMMANDS),
  stage: z.enum(PROMOTE_STAGES),
  digest: z.string().optional(),
  prompts: z.string().optional(),
  model: z.string().min(1).optional(),
  share: z.coerce.number().min(0).max(100).optional(),
  print: z.boolean().optional(),
  repository: z.string().optional(),
  'registry-id': z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account ID').optional(),
  region: z.string().min(1).optional(),
  // Passed to cdk as one argument of the printed command: no whitespace.
  'config-dir': z.string().regex(/^\S+$/, 'must be a path without spaces').optional(),
});
type Args = z.infer<typeof argsSchema>;

export interface CanaryCliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  /** Builds the clients for a region; the tests pass fakes. */
  readonly ports: (region: string | undefined) => CanaryPorts & { readonly close?: () => void };
}

/** The stage's canary thresholds as the alarm was built with them (config over lib/config/stages.ts). */
function thresholdsOf(args: Args): CanaryThresholds {
  const dir = args['config-dir'] ?? DEFAULT_CONFIG_DIR;
  return loadStageConfig(args.stage, readSiteConfig(dir, args.stage)).canary?.thresholds ?? DEFAULT_CANARY_THRESHOLDS;
}

function parse(argv: readonly string[]): Args {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      stage: { type: 'string' },
      digest: { type: 'string' },
      prompts: { type: 'string' },
      model: { type: 'string' },
      share: { type: 'string' },
      print: { type: 'boolean' },
      repository: { type: 'string' },
      'registry-id': { type: 'string' },
      region: { type: 'string' },
      'config-dir': { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new Error(`expected one command (${COMMANDS.join(', ')}), got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
  const args = argsSchema.parse({ ...values, command: positionals[0] });
  if (args.command === 'start' && (args.digest === undefined || args.share === undefined)) throw new Error('start needs --digest sha256:<hex> and --share <percent>');
  return args;
}

async function execute(args: Args, ports: CanaryPorts, out: (s: string) => void): Promise<number> {
  switch (args.command) {
    case 'start': {
      const result = await startCanary(ports, {
        stage: args.stage,
        digest: args.digest ?? '',
        share: args.share ?? 0,
        ...(args.prompts === undefined ? {} : { prompts: args.prompts }),
        ...(args.model === undefined ? {} : { model: args.model }),
        ...(args['config-dir'] === undefined ? {} : { configDir: args['config-dir'] }),
        ...(args.print === true ? { printOnly: true } : {}),
      });
      if (result.kind === 'deploy_needed') {
        out(`The candidate is not deployed yet. Run this, then the same start again to set the share:\n\n${result.command}\n`);
        return 3;
      }
      out(`${result.deployed ? 'deployed the candidate; ' : 'the candidate already runs; '}share set to ${result.share} % (the intake reads it within 15 s). Follow it with: npm run canary -- status --stage ${args.stage}\n`);
      return 0;
    }
    case 'status':
      out(formatStatus(await canaryStatus(ports, args.stage, thresholdsOf(args))));
      return 0;
    case 'promote': {
      const result = await promoteCanary(ports, {
        stage: args.stage,
        ...(args.repository === undefined ? {} : { repository: args.repository }),
        ...(args['registry-id'] === undefined ? {} : { registryId: args['registry-id'] }),
        ...(args['config-dir'] === undefined ? {} : { configDir: args['config-dir'] }),
        ...(args.print === true ? { printOnly: true } : {}),
      });
      const lines = [
        `share set to 0; promoting the candidate ${result.plan.repository}@${result.plan.digest} to stable`,
        ...result.plan.scans.map((s) => `scan ${s.platform ?? 'image'} ${s.status}: ${Object.entries(s.severityCounts).map(([k, v]) => `${k}=${v}`).join(' ') || 'no findings'}`),
        ...result.notCarried.map((n) => `not carried by the digest: ${n}`),
        result.deployed ? `deployed: ${result.plan.command}` : `run: ${result.plan.command}`,
      ];
      out(`${lines.join('\n')}\n`);
      return result.deployed ? 0 : 3;
    }
    case 'abort': {
      const { previousShare } = await abortCanary(ports, args.stage);
      out(`share ${previousShare ?? '?'} % -> 0 %: no new task goes to the candidate; its in-flight tasks finish and its pool scales in.\n`);
      return 0;
    }
  }
}

export async function canaryCli(argv: readonly string[], io: CanaryCliIo): Promise<number> {
  let args: Args;
  try {
    args = parse(argv);
  } catch (e) {
    const detail = e instanceof z.ZodError ? e.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('\n') : e instanceof Error ? e.message : String(e);
    io.err(`${detail}\n${USAGE}\n`);
    return 2;
  }
  const ports = io.ports(args.region);
  try {
    return await execute(args, ports, io.out);
  } catch (e) {
    if (e instanceof CanaryCliError || e instanceof PromoteError) {
      io.err(`canary ${args.command} refused (${e.type}): ${e.message}\n`);
      return e.type === 'bad_request' ? 2 : 1;
    }
    if (e instanceof OpenClawError) {
      io.err(`canary ${args.command} failed (${e.type}): ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    ports.close?.();
  }
}

/** Real clients and a runner that inherits the terminal (cdk deploy asks nothing with --require-approval never). */
function awsPorts(region: string | undefined): CanaryPorts & { close: () => void } {
  const config = region === undefined ? {} : { region };
  const ssm = new SSMClient(config);
  const cloudwatch = new CloudWatchClient(config);
  const ecr = new ECRClient(config);
  return {
    ssm,
    cloudwatch,
    ecr,
    run: (argv) =>
      new Promise((resolve, reject) => {
        const [cmd, ...rest] = argv;
        if (cmd === undefined) return reject(new Error('empty command'));
        const child = spawn(cmd, rest, { stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (code) => resolve(code ?? 1));
      }),
    close: () => {
      ssm.destroy();
      cloudwatch.destroy();
      ecr.destroy();
    },
  };
}

if (require.main === module) {
  canaryCli(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), ports: awsPorts }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`canary failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
