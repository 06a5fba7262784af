import { InfraConfigError } from '../errors';
import type { DeployStage } from './schema';

/** `cdk synth -c imageDigest=sha256:...` selects the one image CI built and scanned. */
export const IMAGE_DIGEST_CONTEXT_KEY = 'imageDigest';

/**
 * Dev synthesizes without context so `npx cdk synth` works on a fresh checkout. All zeros cannot
 * be a real image, so a dev stack deployed with it fails to pull instead of running something stale.
 */
export const DEV_PLACEHOLDER_IMAGE_DIGEST = `sha256:${'0'.repeat(64)}`;

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * The image digest for a stage. Staging and prod only ever run an image by its immutable digest,
 * so a missing or malformed digest stops the synth with what to pass.
 */
export function resolveImageDigest(stage: DeployStage, contextValue: unknown): string {
  if (contextValue === undefined || contextValue === null || contextValue === '') {
    if (stage === 'dev') return DEV_PLACEHOLDER_IMAGE_DIGEST;
    throw new InfraConfigError(
      `Stage ${stage} needs the image digest CI pushed: pass -c ${IMAGE_DIGEST_CONTEXT_KEY}=sha256:<64 hex chars> ` +
        `(the "digest" output of the build job), e.g. npx cdk deploy '${stage}/*' -c ${IMAGE_DIGEST_CONTEXT_KEY}=sha256:...`,
      { stage },
    );
  }
  if (typeof contextValue !== 'string' || !DIGEST.test(contextValue)) {
    throw new InfraConfigError(
      `${IMAGE_DIGEST_CONTEXT_KEY}=${JSON.stringify(contextValue)} is not an image digest; pass -c ${IMAGE_DIGEST_CONTEXT_KEY}=sha256:<64 lowercase hex chars>, not a tag or an image URI`,
      { stage },
    );
  }
  return contextValue;
}
