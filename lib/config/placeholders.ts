import type { StageConfig } from './schema';

/** Example accounts used in lib/config/stages.ts, the docs and AWS's own examples. */
export const EXAMPLE_ACCOUNTS: ReadonlySet<string> = new Set(['111111111111', '222222222222', '333333333333', '123456789012', '000000000000']);
/** The GitHub repository this app is published from: trusting it would let its maintainers deploy into your account. */
export const UPSTREAM_GITHUB = { owner: 'openclaw', repo: 'openclaw-deploy' } as const;
/** RFC 5737 documentation ranges: nobody's office or VPN. */
const DOCUMENTATION_CIDRS = ['192.0.2.', '198.51.100.', '203.0.113.'];
/** The certificate UUIDs of the examples (all zeros but the version nibbles). */
const EXAMPLE_CERTIFICATE = /certificate\/00000000-0000-4000-8000-/;

export interface PlaceholderProblem {
  /** Dotted key in config/<stage>.json. */
  readonly key: string;
  readonly value: unknown;
  /** What is wrong and what to set instead. */
  readonly fix: string;
}

/**
 * What a staging or prod configuration still holds from the examples. Dev may run on them (a
 * sandbox account is still a real account, but dev is where adopters start); staging and prod
 * serve traffic and must not. Each problem names the key and the fix.
 */
export function placeholderProblems(config: StageConfig): PlaceholderProblem[] {
  if (config.stage === 'dev') return [];
  const out: PlaceholderProblem[] = [];
  const add = (key: string, value: unknown, fix: string) => out.push({ key, value, fix });
  if (EXAMPLE_ACCOUNTS.has(config.env.account)) add('env.account', config.env.account, `an example account: set the 12-digit ID of the AWS account ${config.stage} deploys into`);
  const cert = config.ingress.certificateArn;
  if (cert !== undefined && (EXAMPLE_CERTIFICATE.test(cert) || [...EXAMPLE_ACCOUNTS].some((a) => cert.includes(`:${a}:`)))) {
    add('ingress.certificateArn', cert, `an example certificate: set the ARN of your ACM certificate for the API's domain, in ${config.env.region}`);
  }
  if (DOCUMENTATION_CIDRS.some((prefix) => config.ingress.allowedCidr.startsWith(prefix))) {
    add('ingress.allowedCidr', config.ingress.allowedCidr, 'a documentation range (RFC 5737) that matches nobody: set your clients\' range, or 0.0.0.0/0 for a public API');
  }
  const { owner, repo } = config.github;
  if (owner === undefined || repo === undefined) {
    add('github.owner', owner, 'set github.owner and github.repo to the repository whose Actions deploy this stage (deploy.yml assumes its role)');
  } else if (owner.toLowerCase() === UPSTREAM_GITHUB.owner && repo.toLowerCase() === UPSTREAM_GITHUB.repo) {
    add('github.repo', `${owner}/${repo}`, 'the repository this app is published from: set your own fork or repository, or its maintainers could deploy into your account');
  }
  const from = config.registry.promoteFrom;
  if (from !== undefined && EXAMPLE_ACCOUNTS.has(from.account)) add('registry.promoteFrom.account', from.account, 'an example account: set the dev account whose repository CI pushes to');
  config.registry.pullAccounts.forEach((a, i) => {
    if (EXAMPLE_ACCOUNTS.has(a)) add(`registry.pullAccounts.${i}`, a, 'an example account: list the staging and prod account IDs that copy images from here');
  });
  if (config.stage === 'prod') {
    if (config.alarms.pageRoute === 'page' && config.alarms.pageEmails.length === 0) {
      add('alarms.pageEmails', [], 'prod pages a human, but nobody is subscribed: list at least one address (or subscribe your incident tool and list its e-mail)');
    }
    if (config.services.gateway.limits === undefined) {
      add('services.gateway.limits', undefined, 'set your organisation\'s Anthropic limits per model tier (console, Limits page): {"tiers": {"sonnet": {"models": [...], "rpm", "itpm", "otpm"}}}');
    }
  }
  return out;
}
