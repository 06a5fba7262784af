import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { OpenClawError } from './errors';

/** A callback URL was refused: wrong scheme, or it points (or resolves) to a private address. */
export class CallbackUrlRejectedError extends OpenClawError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('callback_url_rejected', message, context);
  }
}

/**
 * The only port a callback may use. The worker's security group opens exactly this port to the
 * internet (lib/constructs/agent-worker-service.ts), so a URL on any other port would be accepted
 * at submission and time out at delivery; refusing it here keeps the two in agreement.
 */
export const WEBHOOK_PORT = 443;

/** Resolve a hostname to every address it has (A and AAAA). */
export type Resolver = (hostname: string) => Promise<readonly string[]>;

export const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** A checked callback: the URL plus the address it resolved to, so delivery can pin that address. */
export interface CheckedCallback {
  readonly url: URL;
  readonly address: string;
  readonly family: 4 | 6;
}

export interface CallbackUrlPolicyOptions {
  /** @default systemResolver (the OS resolver) */
  readonly resolver?: Resolver;
  /**
   * Tests only: allow plain http to these exact hosts (e.g. '127.0.0.1'), skipping the private-address
   * check for them. Never set in a deployed service.
   * @default none
   */
  readonly allowHttpHosts?: readonly string[];
}

// Everything a callback must never reach: the VPC, the host, the metadata service, and every range
// that is not global unicast on the internet. Kept a superset of request-filtering-agent's (ipaddr.js
// special ranges): test/runtime/shared/ssrf-policy-vs-library.test.ts compares both on one table.
// Two lists: a BlockList also matches IPv4 addresses against IPv4-mapped IPv6 rules, and every
// IPv4 address is "mapped" under the IPv6 rules below.
const PRIVATE_V4 = new BlockList();
const PRIVATE_V6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.31.196.0', 24],
  ['192.52.193.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['192.175.48.0', 24],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE_V4.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  // Unspecified, loopback and the IPv4-compatible block; then IPv4-mapped and -translated (SIIT):
  // an IPv6 literal that only carries an IPv4 address is never a legitimate callback target.
  ['::', 96],
  ['::ffff:0:0', 96],
  ['::ffff:0:0:0', 96],
  // NAT64 (well-known and local-use prefixes), 6to4 and the 2001::/23 IETF block (Teredo, benchmarking, ORCHID...).
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['2002::', 16],
  ['2001::', 23],
  ['100::', 64],
  ['2001:db8::', 32],
  ['2620:4f:8000::', 48],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE_V6.addSubnet(net, prefix, 'ipv6');
}

const BLOCKED_NAMES = /(^|\.)(localhost|localdomain|internal|local|home\.arpa)$/i;

/** True for loopback, private, link-local (incl. 169.254.169.254 and fd00:ec2::254), multicast, reserved and IPv4-embedding IPv6. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE_V4.check(address, 'ipv4');
  if (family !== 6) return true; // not an address at all: refuse rather than guess
  return PRIVATE_V6.check(address, 'ipv6');
}

/**
 * Decides whether a callback URL may be called: https only, no credentials in the URL, and the
 * host (or every address it resolves to) public. Run at submission and again at delivery, because
 * DNS can change in between; delivery then connects to the address checked here (no rebinding).
 */
export class CallbackUrlPolicy {
  private readonly resolver: Resolver;
  private readonly allowHttp: ReadonlySet<string>;

  constructor(options: CallbackUrlPolicyOptions = {}) {
    this.resolver = options.resolver ?? systemResolver;
    this.allowHttp = new Set(options.allowHttpHosts ?? []);
  }

  async check(raw: string): Promise<CheckedCallback> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new CallbackUrlRejectedError('callbackUrl is not a valid absolute URL', {});
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (url.username !== '' || url.password !== '') {
      throw new CallbackUrlRejectedError('callbackUrl must not contain credentials; use the signature header to authenticate calls', {});
    }
    if (url.protocol === 'http:' && this.allowHttp.has(host)) {
      return { url, address: host, family: isIP(host) === 6 ? 6 : 4 };
    }
    if (url.protocol !== 'https:') {
      throw new CallbackUrlRejectedError(`callbackUrl must use https (got "${url.protocol.replace(':', '')}")`, { host });
    }
    if (url.port !== '' && Number(url.port) !== WEBHOOK_PORT) {
      throw new CallbackUrlRejectedError(`callbackUrl port ${url.port} is not allowed; webhooks are sent to https on port ${WEBHOOK_PORT} only`, { host, port: url.port });
    }
    if (isIP(host) !== 0) {
      if (isPrivateAddress(host)) throw new CallbackUrlRejectedError(`callbackUrl host ${host} is a private, loopback or link-local address`, { host });
      return { url, address: host, family: isIP(host) === 6 ? 6 : 4 };
    }
    if (BLOCKED_NAMES.test(host.replace(/\.$/, ''))) {
      throw new CallbackUrlRejectedError(`callbackUrl host ${host} is an internal name; use a public hostname`, { host });
    }
    let addresses: readonly string[];
    try {
      addresses = await this.resolver(host);
    } catch {
      throw new CallbackUrlRejectedError(`callbackUrl host ${host} does not resolve; use a public hostname`, { host });
    }
    if (addresses.length === 0) throw new CallbackUrlRejectedError(`callbackUrl host ${host} does not resolve; use a public hostname`, { host });
    const bad = addresses.find(isPrivateAddress);
    if (bad !== undefined) {
      throw new CallbackUrlRejectedError(`callbackUrl host ${host} resolves to a private, loopback or link-local address (${bad})`, { host });
    }
    const address = addresses[0] as string;
    return { url, address, family: isIP(address) === 6 ? 6 : 4 };
  }
}
