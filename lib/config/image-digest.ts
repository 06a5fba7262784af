import { InfraConfigError } from '../errors';
import type { DeployStage } from './schema';

/** `cdk synth -c imageDigest=sha256:...` selects the one image CI built and scanned. */
export const IMAGE_DIGEST_CONTEXT_KEY = 'imageDigest';

/**
 * Dev synthesizes without context so `npx cdk synth 'dev/*'` works on a fresh checkout. All zeros
 * cannot be a real image, so a dev stack deployed with it fails to pull instead of running
 * something stale.
 */
export const DEV_PLACEHOLDER_IMAGE_DIGEST = `sha256:${'0'.repeat(64)}`;

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The digest a stage runs, or why it has none. */
export type ImageDigestResolution =
  | { readonly digest: string; readonly placeholder: false }
  /** Synth continues with the placeholder; `problem` must fail any synth or deploy of the stage. */
  | { readonly digest: string; readonly placeholder: true; readonly problem?: string };

/**
 * Staging and prod only ever run an image by its immutable digest. A malformed value is always a
 * mistake and throws. A missing one is reported as a `problem` rather than thrown, so that
 * `cdk deploy 'dev/*'` works without it while any synth or deploy that selects staging or prod
 * stops with what to pass.
 */
export function resolveImageDigest(stage: DeployStage, contextValue: unknown): ImageDigestResolution {
  if (contextValue === undefined || contextValue === null || contextValue === '') {
    if (stage === 'dev') return { digest: DEV_PLACEHOLDER_IMAGE_DIGEST, placeholder: true };
    return {
      digest: DEV_PLACEHOLDER_IMAGE_DIGEST,
      placeholder: true,
      problem:
        `Stage ${stage} needs the image digest CI pushed: pass -c ${IMAGE_DIGEST_CONTEXT_KEY}=sha256:<64 hex chars> ` +
        `(the "digest" output of the build job), e.g. npx cdk deploy '${stage}/*' -c ${IMAGE_DIGEST_CONTEXT_KEY}=sha256:...`,
    };
  }
  if (typeof contextValue !== 'string' || !DIGEST.test(contextValue)) {
    throw new InfraConfigError(
      `${IMAGE_DIGEST_CONTEXT_KEY}=${JSON.stringify(contextValue)} is not an image digest; pass -c ${IMAGE_DIGEST_CONTEXT_KEY}=sha256:<64 lowercase hex chars>, not a tag or an image URI`,
      { stage },
    );
  }
  return { digest: contextValue, placeholder: false };
}
