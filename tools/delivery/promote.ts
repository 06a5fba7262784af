/**
 * Promotion by digest: the image CI built and scanned is the only thing deployed, to every stage.
 * Given a tag (or a digest), this resolves the immutable digest in ECR, refuses it unless ECR's
 * scan finished without CRITICAL findings, and returns the exact `cdk deploy` command for a stage.
 *
 * Images pushed by docker/build-push-action with provenance or SBOM are OCI indexes: ECR scans the
 * platform images inside, not the index, so each platform manifest's scan is checked and
 * attestation manifests are skipped.
 */
import {
  BatchGetImageCommand,
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  type ECRClient,
  type ImageIdentifier,
} from '@aws-sdk/client-ecr';
import { OpenClawError, errorMessage } from '../../runtime/src/shared/errors';

export const PROMOTE_STAGES = ['dev', 'staging', 'prod'] as const;
export type PromoteStage = (typeof PROMOTE_STAGES)[number];

/** Refused or impossible promotion; the message says what is wrong and what to do. */
export class PromoteError extends OpenClawError {}

export interface PromoteRequest {
  readonly repository: string;
  /** Tag to resolve (git SHA or version). Exactly one of tag and digest. */
  readonly tag?: string;
  /** `sha256:…` digest to promote as is. Exactly one of tag and digest. */
  readonly digest?: string;
  readonly stage: PromoteStage;
  /** Registry (account) ID when the repository lives in another account. @default the caller's account */
  readonly registryId?: string;
}

export interface ScanVerdict {
  readonly digest: string;
  readonly platform?: string;
  readonly status: string;
  readonly severityCounts: Readonly<Record<string, number>>;
}

export interface PromotePlan {
  readonly repository: string;
  readonly digest: string;
  readonly tag?: string;
  readonly stage: PromoteStage;
  /** One verdict per scanned image (one for a single manifest, one per platform for an index). */
  readonly scans: readonly ScanVerdict[];
  readonly command: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const INDEX_MEDIA_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const SCAN_DONE = new Set(['COMPLETE', 'ACTIVE']);
const SCAN_WAITING = new Set(['PENDING', 'IN_PROGRESS']);

/**
 * The deploy command for a stage. The CDK app reads `imageDigest` from context and deploys
 * `repository@digest`; the stage's stacks are selected by their Stage path.
 */
export function deployCommand(stage: PromoteStage, digest: string): string {
  return `npx cdk deploy '${stage}/*' -c imageDigest=${digest} --require-approval never`;
}

function idOf(req: Pick<PromoteRequest, 'registryId'>): { registryId?: string } {
  return req.registryId === undefined ? {} : { registryId: req.registryId };
}

interface ResolvedImage {
  readonly digest: string;
  readonly mediaType?: string;
}

async function resolveImage(ecr: ECRClient, req: PromoteRequest): Promise<ResolvedImage> {
  const imageId: ImageIdentifier = req.digest !== undefined ? { imageDigest: req.digest } : { imageTag: req.tag };
  const shown = req.digest ?? `tag ${req.tag}`;
  let details;
  try {
    details = await ecr.send(new DescribeImagesCommand({ repositoryName: req.repository, imageIds: [imageId], ...idOf(req) }));
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    if (name === 'ImageNotFoundException') {
      throw new PromoteError('image_not_found', `${shown} is not in ECR repository ${req.repository}: check the value, or run the release workflow to build and push it`, { repository: req.repository, ...imageId }, { cause: err });
    }
    if (name === 'RepositoryNotFoundException') {
      throw new PromoteError('repository_not_found', `ECR repository ${req.repository} does not exist in this account and region: pass --repository as created by the registry stack (and --region/--registry-id if it lives elsewhere)`, { repository: req.repository }, { cause: err });
    }
    throw new PromoteError('ecr_error', `DescribeImages for ${shown} in ${req.repository} failed: ${errorMessage(err)}`, { repository: req.repository, ...imageId }, { cause: err });
  }
  const image = details.imageDetails?.[0];
  if (image?.imageDigest === undefined) {
    throw new PromoteError('image_not_found', `ECR returned no image for ${shown} in ${req.repository}: check the tag or digest`, { repository: req.repository, ...imageId });
  }
  return { digest: image.imageDigest, ...(image.imageManifestMediaType === undefined ? {} : { mediaType: image.imageManifestMediaType }) };
}

interface IndexEntry {
  readonly digest?: string;
  readonly platform?: { readonly os?: string; readonly architecture?: string };
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The platform images of an index, without buildx's attestation manifests (provenance, SBOM). */
async function platformImages(ecr: ECRClient, req: PromoteRequest, indexDigest: string): Promise<{ digest: string; platform: string }[]> {
  const got = await ecr.send(
    new BatchGetImageCommand({
      repositoryName: req.repository,
      imageIds: [{ imageDigest: indexDigest }],
      acceptedMediaTypes: INDEX_MEDIA_TYPES,
      ...idOf(req),
    }),
  );
  const manifest = got.images?.[0]?.imageManifest;
  if (manifest === undefined) {
    throw new PromoteError('index_unreadable', `Could not read the image index ${indexDigest} in ${req.repository}: ${got.failures?.[0]?.failureReason ?? 'no manifest returned'}`, { repository: req.repository, digest: indexDigest });
  }
  const entries = ((JSON.parse(manifest) as { manifests?: IndexEntry[] }).manifests ?? []).filter(
    (m) => m.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest' && m.digest !== undefined,
  );
  if (entries.length === 0) {
    throw new PromoteError('index_empty', `Image index ${indexDigest} in ${req.repository} lists no platform image: rebuild and push it`, { repository: req.repository, digest: indexDigest });
  }
  return entries.map((m) => ({ digest: m.digest as string, platform: `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}` }));
}

async function scanVerdict(ecr: ECRClient, req: PromoteRequest, digest: string, platform?: string): Promise<ScanVerdict> {
  const where = `${req.repository}@${digest}${platform === undefined ? '' : ` (${platform})`}`;
  let res;
  try {
    res = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: req.repository, imageId: { imageDigest: digest }, maxResults: 1000, ...idOf(req) }));
  } catch (err) {
    if (err instanceof Error && err.name === 'ScanNotFoundException') {
      throw new PromoteError('scan_missing', `${where} has never been scanned: enable scan-on-push on the repository or run \`aws ecr start-image-scan --repository-name ${req.repository} --image-id imageDigest=${digest}\`, then retry`, { repository: req.repository, digest }, { cause: err });
    }
    throw new PromoteError('ecr_error', `DescribeImageScanFindings for ${where} failed: ${errorMessage(err)}`, { repository: req.repository, digest }, { cause: err });
  }
  const status = res.imageScanStatus?.status ?? 'UNKNOWN';
  const description = res.imageScanStatus?.description ?? '';
  if (SCAN_WAITING.has(status)) {
    throw new PromoteError('scan_pending', `The scan of ${where} is ${status}: wait for it (\`aws ecr wait image-scan-complete --repository-name ${req.repository} --image-id imageDigest=${digest}\`) and retry`, { repository: req.repository, digest, status });
  }
  if (!SCAN_DONE.has(status)) {
    throw new PromoteError('scan_unusable', `The scan of ${where} ended ${status}${description === '' ? '' : ` (${description})`}: an unscanned image is not promoted; rescan it or rebuild from a fixed base`, { repository: req.repository, digest, status });
  }
  const counts: Record<string, number> = { ...(res.imageScanFindings?.findingSeverityCounts ?? {}) };
  const critical = counts['CRITICAL'] ?? 0;
  if (critical > 0) {
    const names = [
      ...(res.imageScanFindings?.findings ?? []).filter((f) => f.severity === 'CRITICAL').map((f) => f.name),
      ...(res.imageScanFindings?.enhancedFindings ?? []).filter((f) => f.severity === 'CRITICAL').map((f) => f.packageVulnerabilityDetails?.vulnerabilityId ?? f.title),
    ].filter((n): n is string => n !== undefined);
    const listed = names.length === 0 ? '' : `: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`;
    throw new PromoteError('critical_findings', `${where} has ${critical} CRITICAL finding(s)${listed}. Fix them (bump the base digest or the dependency), rebuild, and promote the new digest`, { repository: req.repository, digest, critical });
  }
  return { digest, status, severityCounts: counts, ...(platform === undefined ? {} : { platform }) };
}

function validate(req: PromoteRequest): void {
  if ((req.tag === undefined) === (req.digest === undefined)) {
    throw new PromoteError('bad_request', 'Pass exactly one of --tag <tag> or --digest sha256:<64 hex>', {});
  }
  if (req.digest !== undefined && !DIGEST.test(req.digest)) {
    throw new PromoteError('bad_request', `--digest "${req.digest}" is not a digest: expected sha256: followed by 64 lowercase hex characters`, {});
  }
  if (!(PROMOTE_STAGES as readonly string[]).includes(req.stage)) {
    throw new PromoteError('bad_request', `--stage "${req.stage}" is not a stage: use one of ${PROMOTE_STAGES.join(', ')}`, {});
  }
}

export interface PromoteOptions {
  /**
   * Keep polling while the scan is pending or not yet registered (right after a push), up to this
   * long; then refuse as usual. @default 0 (no waiting)
   */
  readonly waitForScanMs?: number;
  /** @default 10000 */
  readonly pollMs?: number;
  /** @default setTimeout-based sleep */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
}

const RETRYABLE = new Set(['scan_pending', 'scan_missing']);

/** Resolves, checks and returns the plan; throws PromoteError when the digest must not ship. */
export async function planPromotion(ecr: ECRClient, req: PromoteRequest, options: PromoteOptions = {}): Promise<PromotePlan> {
  validate(req);
  const image = await resolveImage(ecr, req);
  const isIndex = image.mediaType !== undefined && INDEX_MEDIA_TYPES.includes(image.mediaType);
  const targets = isIndex ? await platformImages(ecr, req, image.digest) : [{ digest: image.digest, platform: undefined }];
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + (options.waitForScanMs ?? 0);
  const scans: ScanVerdict[] = [];
  // Sequential: a handful of platforms at most, and the first refusal is the message to show.
  for (const t of targets) {
    for (;;) {
      try {
        scans.push(await scanVerdict(ecr, req, t.digest, t.platform));
        break;
      } catch (err) {
        if (!(err instanceof PromoteError) || !RETRYABLE.has(err.type) || now() >= deadline) throw err;
        await sleep(options.pollMs ?? 10_000);
      }
    }
  }
  return {
    repository: req.repository,
    digest: image.digest,
    stage: req.stage,
    scans,
    command: deployCommand(req.stage, image.digest),
    ...(req.tag === undefined ? {} : { tag: req.tag }),
  };
}
