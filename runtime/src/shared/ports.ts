/**
 * Default listening ports; the CDK container definitions use the same numbers. Kept apart from
 * config.ts so the container health check bundles without zod (it runs every 15 s per task).
 */
export const PORTS = { intake: 8080, worker: 8081, gateway: 8090 } as const;
