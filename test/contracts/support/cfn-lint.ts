import { spawnSync } from 'node:child_process';

/** One cfn-lint finding, as `--format json` prints it. */
export interface CfnLintMatch {
  readonly Filename: string;
  readonly Level: 'Error' | 'Warning' | 'Informational';
  readonly Message: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path: ReadonlyArray<string | number> };
}

export class CfnLintMissingError extends Error {}

/**
 * The cfn-lint command: `CFN_LINT` if set, else `cfn-lint` on PATH. It is a Python tool, so npm
 * cannot install it; the error says how to get it.
 */
export function cfnLintCommand(env: NodeJS.ProcessEnv = process.env): string {
  const command = env['CFN_LINT'] ?? 'cfn-lint';
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new CfnLintMissingError(
      `cfn-lint is not available as "${command}" (${probe.error?.message ?? probe.stderr.trim()}): install it with ` +
        '`pipx install cfn-lint` (or `pip install cfn-lint`, `brew install cfn-lint`, `apt-get install cfn-lint`), or set CFN_LINT to its path. ' +
        '.ci/run installs it where Debian packages it.',
    );
  }
  return command;
}

/** Lint templates (files) for a region; returns every finding. */
export function cfnLint(command: string, files: readonly string[], region: string): CfnLintMatch[] {
  const run = spawnSync(command, ['--format', 'json', '--regions', region, '--', ...files], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  // Exit codes are a bit mask of the levels found (2 error, 4 warning, 8 informational); 1 is a crash.
  if (run.error !== undefined || run.status === null || (run.status & 1) === 1) {
    throw new Error(`cfn-lint failed to run (status ${run.status}): ${run.error?.message ?? run.stderr}`);
  }
  return JSON.parse(run.stdout === '' ? '[]' : run.stdout) as CfnLintMatch[];
}
