import {
  BatchGetImageCommand,
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  ECRClient,
  ImageNotFoundException,
  RepositoryNotFoundException,
  ScanNotFoundException,
} from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { PromoteError, deployCommand, planPromotion, type PromoteRequest } from '../../tools/delivery/promote';
import { promoteCli } from '../../tools/delivery/promote-cli';

// ECR has no emulator; aws-sdk-client-mock stands in for it (allowed for ECR by the project brief).
const ecrMock = mockClient(ECRClient);
const ecr = new ECRClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

const REPO = 'openclaw/runtime';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const AMD64 = `sha256:${'b'.repeat(64)}`;
const ARM64 = `sha256:${'c'.repeat(64)}`;
const ATTESTATION = `sha256:${'d'.repeat(64)}`;
const REQ: PromoteRequest = { repository: REPO, tag: 'v1.2.3', stage: 'staging' };

const meta = { $metadata: {}, message: 'x' };

function singleImage(): void {
  ecrMock.on(DescribeImagesCommand).resolves({
    imageDetails: [{ imageDigest: DIGEST, imageTags: ['v1.2.3'], imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json' }],
  });
}

function scan(status: string, counts: Record<string, number> = {}, extra: object = {}): void {
  ecrMock.on(DescribeImageScanFindingsCommand).resolves({
    imageScanStatus: { status: status as 'COMPLETE' },
    imageScanFindings: { findingSeverityCounts: counts, ...extra },
  });
}

async function refusal(req: PromoteRequest = REQ): Promise<PromoteError> {
  const err = await planPromotion(ecr, req).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof PromoteError)) throw new Error(`expected a PromoteError, got ${String(err)}`);
  return err;
}

beforeEach(() => ecrMock.reset());

describe('planPromotion', () => {
  it('GIVEN a tag whose scan completed without CRITICAL findings THEN it returns the digest and the deploy command by digest', async () => {
    singleImage();
    scan('COMPLETE', { HIGH: 2, MEDIUM: 5 });
    const plan = await planPromotion(ecr, REQ);
    expect(plan.digest).toBe(DIGEST);
    expect(plan.scans).toEqual([{ digest: DIGEST, status: 'COMPLETE', severityCounts: { HIGH: 2, MEDIUM: 5 } }]);
    expect(plan.command).toBe(`npx cdk deploy 'staging/*' -c imageDigest=${DIGEST} --require-approval never`);
    expect(ecrMock.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toEqual({ repositoryName: REPO, imageIds: [{ imageTag: 'v1.2.3' }] });
    expect(ecrMock.commandCalls(DescribeImageScanFindingsCommand)[0]?.args[0].input).toMatchObject({ repositoryName: REPO, imageId: { imageDigest: DIGEST } });
  });

  it('GIVEN enhanced scanning (status ACTIVE) with no findings THEN it promotes', async () => {
    singleImage();
    scan('ACTIVE');
    await expect(planPromotion(ecr, { ...REQ, stage: 'prod', registryId: '333333333333' })).resolves.toMatchObject({ digest: DIGEST, stage: 'prod' });
    expect(ecrMock.commandCalls(DescribeImagesCommand)[0]?.args[0].input.registryId).toBe('333333333333');
  });

  it('GIVEN CRITICAL findings THEN it refuses and names the CVEs and the fix', async () => {
    singleImage();
    scan('COMPLETE', { CRITICAL: 2, HIGH: 1 }, {
      findings: [
        { name: 'CVE-2026-0001', severity: 'CRITICAL' },
        { name: 'CVE-2026-0002', severity: 'HIGH' },
      ],
      enhancedFindings: [{ severity: 'CRITICAL', packageVulnerabilityDetails: { vulnerabilityId: 'CVE-2026-0003' } }],
    });
    const err = await refusal();
    expect(err.type).toBe('critical_findings');
    expect(err.message).toContain('2 CRITICAL');
    expect(err.message).toContain('CVE-2026-0001');
    expect(err.message).toContain('CVE-2026-0003');
    expect(err.message).not.toContain('CVE-2026-0002');
    expect(err.context).toMatchObject({ digest: DIGEST, critical: 2 });
  });

  it.each(['PENDING', 'IN_PROGRESS'])('GIVEN a scan that is %s THEN it refuses and says to wait', async (status) => {
    singleImage();
    scan(status);
    const err = await refusal();
    expect(err.type).toBe('scan_pending');
    expect(err.message).toContain('aws ecr wait image-scan-complete');
  });

  it.each(['FAILED', 'UNSUPPORTED_IMAGE', 'SCAN_ELIGIBILITY_EXPIRED', 'FINDINGS_UNAVAILABLE'])('GIVEN a scan that ended %s THEN it refuses', async (status) => {
    singleImage();
    ecrMock.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: status as 'FAILED', description: 'layer too large' } });
    const err = await refusal();
    expect(err.type).toBe('scan_unusable');
    expect(err.message).toContain(status);
    expect(err.message).toContain('layer too large');
  });

  it('GIVEN a digest that was never scanned THEN it refuses and prints the start-image-scan command', async () => {
    singleImage();
    ecrMock.on(DescribeImageScanFindingsCommand).rejects(new ScanNotFoundException(meta));
    const err = await refusal();
    expect(err.type).toBe('scan_missing');
    expect(err.message).toContain(`aws ecr start-image-scan --repository-name ${REPO} --image-id imageDigest=${DIGEST}`);
  });

  it('GIVEN an unknown tag THEN it refuses and names the tag and repository', async () => {
    ecrMock.on(DescribeImagesCommand).rejects(new ImageNotFoundException(meta));
    const err = await refusal({ ...REQ, tag: 'nope' });
    expect(err.type).toBe('image_not_found');
    expect(err.message).toContain('tag nope');
    expect(err.message).toContain(REPO);
  });

  it('GIVEN a missing repository THEN it says which repository and how to pass the right one', async () => {
    ecrMock.on(DescribeImagesCommand).rejects(new RepositoryNotFoundException(meta));
    const err = await refusal();
    expect(err.type).toBe('repository_not_found');
    expect(err.message).toContain('--repository');
  });

  it('GIVEN an OCI index with attestations THEN it checks every platform image, skips attestations, and deploys the index digest', async () => {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST, imageManifestMediaType: 'application/vnd.oci.image.index.v1+json' }] });
    ecrMock.on(BatchGetImageCommand).resolves({
      images: [
        {
          imageManifest: JSON.stringify({
            manifests: [
              { digest: AMD64, platform: { os: 'linux', architecture: 'amd64' } },
              { digest: ARM64, platform: { os: 'linux', architecture: 'arm64' } },
              { digest: ATTESTATION, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
            ],
          }),
        },
      ],
    });
    ecrMock.on(DescribeImageScanFindingsCommand, { imageId: { imageDigest: AMD64 } }).resolves({ imageScanStatus: { status: 'COMPLETE' }, imageScanFindings: { findingSeverityCounts: { LOW: 1 } } });
    ecrMock.on(DescribeImageScanFindingsCommand, { imageId: { imageDigest: ARM64 } }).resolves({ imageScanStatus: { status: 'COMPLETE' }, imageScanFindings: { findingSeverityCounts: {} } });
    const plan = await planPromotion(ecr, REQ);
    expect(plan.digest).toBe(DIGEST);
    expect(plan.scans.map((s) => [s.platform, s.digest])).toEqual([
      ['linux/amd64', AMD64],
      ['linux/arm64', ARM64],
    ]);
    expect(ecrMock.commandCalls(DescribeImageScanFindingsCommand)).toHaveLength(2);
  });

  it('GIVEN an index whose arm64 image has a CRITICAL finding THEN it refuses and names the platform', async () => {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST, imageManifestMediaType: 'application/vnd.oci.image.index.v1+json' }] });
    ecrMock.on(BatchGetImageCommand).resolves({
      images: [{ imageManifest: JSON.stringify({ manifests: [{ digest: AMD64, platform: { os: 'linux', architecture: 'amd64' } }, { digest: ARM64, platform: { os: 'linux', architecture: 'arm64' } }] }) }],
    });
    ecrMock.on(DescribeImageScanFindingsCommand, { imageId: { imageDigest: AMD64 } }).resolves({ imageScanStatus: { status: 'COMPLETE' }, imageScanFindings: { findingSeverityCounts: {} } });
    ecrMock.on(DescribeImageScanFindingsCommand, { imageId: { imageDigest: ARM64 } }).resolves({ imageScanStatus: { status: 'COMPLETE' }, imageScanFindings: { findingSeverityCounts: { CRITICAL: 1 } } });
    const err = await refusal();
    expect(err.type).toBe('critical_findings');
    expect(err.message).toContain('linux/arm64');
  });

  it('GIVEN --wait and a scan that is pending, then not yet registered, then complete THEN it waits and promotes', async () => {
    singleImage();
    ecrMock
      .on(DescribeImageScanFindingsCommand)
      .rejectsOnce(new ScanNotFoundException(meta))
      .resolvesOnce({ imageScanStatus: { status: 'IN_PROGRESS' } })
      .resolves({ imageScanStatus: { status: 'COMPLETE' }, imageScanFindings: { findingSeverityCounts: {} } });
    let clock = 0;
    const slept: number[] = [];
    const plan = await planPromotion(ecr, REQ, { waitForScanMs: 60_000, pollMs: 5000, now: () => clock, sleep: async (ms) => void (slept.push(ms), (clock += ms)) });
    expect(plan.scans[0]?.status).toBe('COMPLETE');
    expect(slept).toEqual([5000, 5000]);
  });

  it('GIVEN --wait that runs out while the scan is still pending THEN it refuses as scan_pending', async () => {
    singleImage();
    scan('IN_PROGRESS');
    let clock = 0;
    const err = await planPromotion(ecr, REQ, { waitForScanMs: 20_000, pollMs: 5000, now: () => clock, sleep: async (ms) => void (clock += ms) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PromoteError);
    expect((err as PromoteError).type).toBe('scan_pending');
    expect(clock).toBe(20_000);
  });

  it('GIVEN --wait THEN CRITICAL findings still refuse at once (only pending scans are waited for)', async () => {
    singleImage();
    scan('COMPLETE', { CRITICAL: 1 });
    const sleep = jest.fn(async () => undefined);
    const err = await planPromotion(ecr, REQ, { waitForScanMs: 60_000, sleep }).catch((e: unknown) => e);
    expect((err as PromoteError).type).toBe('critical_findings');
    expect(sleep).not.toHaveBeenCalled();
  });

  it.each([
    ['neither tag nor digest', { repository: REPO, stage: 'dev' }, 'exactly one of --tag'],
    ['both tag and digest', { ...REQ, digest: DIGEST }, 'exactly one of --tag'],
    ['a malformed digest', { repository: REPO, digest: 'sha256:abc', stage: 'dev' }, 'is not a digest'],
    ['an unknown stage', { ...REQ, stage: 'qa' }, 'is not a stage'],
  ])('GIVEN %s THEN it refuses before calling ECR', async (_case, req, text) => {
    const err = await refusal(req as PromoteRequest);
    expect(err.type).toBe('bad_request');
    expect(err.message).toContain(text);
    expect(ecrMock.calls()).toHaveLength(0);
  });
});

describe('deployCommand', () => {
  it('pins the stage and the digest, never a tag', () => {
    expect(deployCommand('prod', DIGEST)).toBe(`npx cdk deploy 'prod/*' -c imageDigest=${DIGEST} --require-approval never`);
  });
});

describe('promote CLI', () => {
  let out: string;
  let err: string;
  beforeEach(() => {
    out = '';
    err = '';
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
  });
  afterEach(() => jest.restoreAllMocks());

  it('prints the plan and the exact deploy command, exit 0', async () => {
    singleImage();
    scan('COMPLETE', { HIGH: 1 });
    await expect(promoteCli(['--repository', REPO, '--tag', 'v1.2.3', '--stage', 'staging', '--region', 'us-east-1'])).resolves.toBe(0);
    expect(out).toContain(`${REPO}@${DIGEST}`);
    expect(out.trim().split('\n').at(-1)).toBe(deployCommand('staging', DIGEST));
  });

  it('exits 1 with the reason when the scan has CRITICAL findings', async () => {
    singleImage();
    scan('COMPLETE', { CRITICAL: 3 });
    await expect(promoteCli(['--repository', REPO, '--tag', 'v1.2.3', '--stage', 'prod', '--region', 'us-east-1'])).resolves.toBe(1);
    expect(err).toContain('promote refused (critical_findings)');
    expect(out).toBe('');
  });

  it.each([
    [['--repository', REPO, '--tag', 'x', '--stage', 'qa'], '--stage'],
    [['--repository', 'Bad Name', '--tag', 'x', '--stage', 'dev'], '--repository'],
    [['--repository', REPO, '--tag', 'x', '--stage', 'dev', '--force'], "Unknown option '--force'"],
  ])('exits 2 with usage on bad arguments %j', async (argv, text) => {
    await expect(promoteCli(argv)).resolves.toBe(2);
    expect(err).toContain(text);
    expect(err).toContain('usage: npm run promote');
  });
});
