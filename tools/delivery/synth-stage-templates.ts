/**
 * Synthesize one stage in process, as `cdk synth` does (cdk.json's context, the config directory,
 * cdk-nag and the Control Tower rules), and hand back its templates. For tooling that reads the
 * template (the cost calculator); the tests have their own cached helper in test/lib/support.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../lib/app';
import type { DeployStage } from '../../lib/config';

const ROOT = join(__dirname, '..', '..');

/** The stacks of a stage, in deploy order. */
export const STAGE_STACKS = ['registry', 'network', 'data', 'services', 'observability'] as const;

export interface SynthesizedTemplates {
  readonly stage: DeployStage;
  readonly account: string;
  readonly region: string;
  readonly templates: Readonly<Record<(typeof STAGE_STACKS)[number], Record<string, unknown>>>;
}

export interface SynthOptions {
  /** Directory of `<stage>.json` site configs (`-c configDir=`). */
  readonly configDir: string;
  /** The digest to synthesize with; the cost does not depend on it. */
  readonly imageDigest: string;
  /** More CDK context (e.g. `canaryDigest`). @default none */
  readonly context?: Readonly<Record<string, unknown>>;
}

function cdkJsonContext(): Record<string, unknown> {
  const parsed = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return parsed.context ?? {};
}

export function synthStageTemplates(stage: DeployStage, options: SynthOptions): SynthesizedTemplates {
  const outdir = mkdtempSync(join(tmpdir(), 'openclaw-synth-'));
  try {
    const app = new App({
      context: { ...cdkJsonContext(), ...options.context, configDir: options.configDir, imageDigest: options.imageDigest },
      outdir,
      builtinCloudFormationValidation: false,
    });
    const built = buildApp(app, { stages: [stage] })[stage];
    if (built === undefined) throw new Error(`buildApp did not create stage ${stage}`);
    app.synth();
    const assembly = built.synth();
    const templates = Object.fromEntries(STAGE_STACKS.map((k) => [k, assembly.getStackArtifact(built[k].artifactId).template as Record<string, unknown>])) as SynthesizedTemplates['templates'];
    return { stage, account: built.account ?? '', region: built.region ?? '', templates };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
