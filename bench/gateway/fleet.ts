import { startGatewayProcess, type GatewayProcess } from '../../tools/local/service-process';

/** Gateway replicas as deployed: each its own process, sharing DynamoDB (or in-memory state when `table` is unset). */
export interface GatewayFleet {
  readonly replicas: readonly GatewayProcess[];
  /** CPU ms used by all replicas so far. */
  cpuMs(): number;
  stop(): Promise<void>;
}

export interface GatewayFleetOptions {
  readonly replicas: number;
  readonly upstreamUrl: string;
  readonly limits: Record<string, unknown>;
  /** The shared gateway table; unset: each replica keeps its buckets in memory. */
  readonly table?: string;
  readonly dynamoEndpoint?: string;
  readonly extraEnv?: Readonly<Record<string, string>>;
}

export async function startGatewayFleet(options: GatewayFleetOptions): Promise<GatewayFleet> {
  const env: Record<string, string> = {
    UPSTREAM_URL: options.upstreamUrl,
    GATEWAY_LIMITS: JSON.stringify(options.limits),
    LOG_LEVEL: 'warn',
    ...(options.table !== undefined && options.dynamoEndpoint !== undefined
      ? { GATEWAY_TABLE: options.table, AWS_ENDPOINT_URL_DYNAMODB: options.dynamoEndpoint, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' }
      : {}),
    ...options.extraEnv,
  };
  const replicas = await Promise.all(Array.from({ length: options.replicas }, () => startGatewayProcess(env)));
  return {
    replicas,
    cpuMs: () => replicas.reduce((t, r) => t + r.cpuMs(), 0),
    stop: async () => void (await Promise.all(replicas.map((r) => r.stop()))),
  };
}
