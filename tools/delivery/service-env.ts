/**
 * The environment each bundled service gets when it runs outside ECS against the emulators: the
 * same variables the CDK task definitions set (runtime/src/shared/config.ts ENV), nothing else.
 * Used by the bundle tests and the prod-like run.
 */
import { ENV } from '../../runtime/src/shared/config';

export interface EmulatorEndpoints {
  readonly dynamo: string;
  readonly sqs: string;
}

export interface ServiceResources {
  readonly tasksTable: string;
  readonly gatewayTable?: string;
  readonly queues: { readonly high: string; readonly normal: string };
}

/** The image's own ENV (Dockerfile final stage); services see these unless a task definition overrides them. */
export const IMAGE_ENV = {
  NODE_ENV: 'production',
  NODE_OPTIONS: '--enable-source-maps --max-old-space-size=384',
} as const;

/**
 * fauxqs started with FAUXQS_HOST=127.0.0.1 names queues `http://sqs.us-east-1.127.0.0.1:PORT/...`,
 * which WHATWG URL parsing (and so the services' config validation) rejects: a host that ends in
 * a number must be an IPv4 address. The SDK sends to the configured endpoint anyway, so the
 * path-style URL on the endpoint names the same queue. Valid URLs pass through unchanged.
 */
export function usableQueueUrl(url: string, sqsEndpoint: string): string {
  if (URL.canParse(url)) return url;
  const path = /^https?:\/\/[^/]+(\/.*)$/.exec(url)?.[1];
  if (path === undefined) throw new Error(`Cannot make a usable queue URL from ${url}: expected http(s)://host/account/name`);
  return `${sqsEndpoint.replace(/\/+$/, '')}${path}`;
}

export interface RoleEnvOptions {
  readonly endpoints: EmulatorEndpoints;
  readonly resources: ServiceResources;
  readonly port: number;
  /** @default 'info' (production log level) */
  readonly logLevel?: string;
}

function common(o: RoleEnvOptions): Record<string, string> {
  return {
    ...IMAGE_ENV,
    [ENV.stage]: 'local',
    [ENV.logLevel]: o.logLevel ?? 'info',
    [ENV.region]: 'us-east-1',
    [ENV.dynamoEndpoint]: o.endpoints.dynamo,
    [ENV.sqsEndpoint]: o.endpoints.sqs,
    [ENV.tasksTable]: o.resources.tasksTable,
    [ENV.port]: String(o.port),
  };
}

function queues(o: RoleEnvOptions): Record<string, string> {
  return {
    [ENV.queueUrlHigh]: usableQueueUrl(o.resources.queues.high, o.endpoints.sqs),
    [ENV.queueUrlNormal]: usableQueueUrl(o.resources.queues.normal, o.endpoints.sqs),
  };
}

export function gatewayEnv(o: RoleEnvOptions & { readonly upstreamUrl: string }): Record<string, string> {
  return {
    ...common(o),
    [ENV.upstreamUrl]: o.upstreamUrl,
    ...(o.resources.gatewayTable === undefined ? {} : { [ENV.gatewayTable]: o.resources.gatewayTable }),
  };
}

export function workerEnv(o: RoleEnvOptions & { readonly gatewayUrl: string; readonly workerId: string }): Record<string, string> {
  return { ...common(o), ...queues(o), [ENV.gatewayUrl]: o.gatewayUrl, [ENV.workerId]: o.workerId };
}

/** `apiKeysJson` is the INTAKE_API_KEYS document: names and SHA-256 hashes, never the keys. */
export function intakeEnv(o: RoleEnvOptions & { readonly apiKeysJson: string }): Record<string, string> {
  return { ...common(o), ...queues(o), [ENV.apiKeys]: o.apiKeysJson };
}
