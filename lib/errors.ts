import { ConfigError } from '../runtime/src/shared/errors';

/**
 * Stage configuration, CDK context or construct props are wrong. The message names the key, the
 * value received and what to change, so `cdk synth` output alone is enough to fix it.
 */
export class InfraConfigError extends ConfigError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { source: 'cdk', ...context });
  }
}

/** Fail fast when a construct prop is outside what the construct can build. */
export function requireProp(condition: boolean, construct: string, prop: string, received: unknown, fix: string): void {
  if (condition) return;
  throw new InfraConfigError(`${construct}: ${prop}=${JSON.stringify(received)} is invalid; ${fix}`, {
    construct,
    prop,
  });
}
