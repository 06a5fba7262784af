/**
 * Puts a local run's records in a stage's terms. The run and the task definitions share one
 * environment contract (runtime/src/shared/config.ts ENV): the value a variable had locally names
 * the same resource as the value the task definition gives it. So every local name (table, queue,
 * secret, parameter) is bound to the stage's through the variables both set; region and account
 * become the stage's. Nothing is copied by hand.
 */
import type { RecordedService } from '../../../runtime/src/shared/call-record';
import type { StageModel } from './stage-model';

const QUEUE_URL = /^https?:\/\/[^/]+\/[^/]+\/([^/?]+)$/;

export interface BoundArn {
  readonly arn: string;
  /** Set when a local name is named by no variable the task definition sets. */
  readonly unbound?: string;
}

export class CallBinding {
  private readonly names = new Map<RecordedService, Map<string, string>>();

  constructor(
    private readonly stage: StageModel,
    localEnv: Readonly<Record<RecordedService, Readonly<Record<string, string>>>>,
  ) {
    for (const service of Object.keys(localEnv) as RecordedService[]) {
      const map = new Map<string, string>();
      const stageEnv = stage.services[service].env;
      for (const [key, local] of Object.entries(localEnv[service])) {
        const deployed = stageEnv[key];
        if (deployed === undefined || deployed === local) continue;
        const lq = QUEUE_URL.exec(local)?.[1];
        const dq = QUEUE_URL.exec(deployed)?.[1];
        if (lq !== undefined && dq !== undefined) map.set(lq, dq);
        else map.set(local, deployed);
      }
      this.names.set(service, map);
    }
  }

  /** The stage's ARN for an ARN recorded locally by `service`. */
  bind(service: RecordedService, arn: string): BoundArn {
    const names = this.names.get(service) ?? new Map<string, string>();
    const whole = names.get(arn);
    if (whole !== undefined) return { arn: whole };
    const m = /^arn:aws:([^:]+):([^:]*):([^:]*):(.*)$/.exec(arn);
    if (m === null) return { arn };
    const [, svc = '', , , rest = ''] = m;
    const head = `arn:aws:${svc}:${this.stage.region}:${this.stage.account}:`;
    const bindName = (name: string): string | undefined => names.get(name);
    let bound: string | undefined;
    let name = rest;
    if (svc === 'dynamodb') {
      const t = /^table\/([^/]+)(\/.*)?$/.exec(rest);
      name = t?.[1] ?? rest;
      const b = t === null ? undefined : bindName(name);
      bound = b === undefined ? undefined : `table/${b}${t?.[2] ?? ''}`;
    } else if (svc === 'sqs') {
      const b = bindName(rest);
      bound = b;
    } else if (svc === 'ssm') {
      name = rest.replace(/^parameter/, '');
      const b = bindName(name) ?? bindName(name.replace(/^\//, ''));
      bound = b === undefined ? undefined : `parameter${b.startsWith('/') ? '' : '/'}${b}`;
    }
    if (bound === undefined) return { arn: `${head}${rest}`, unbound: `${name} is named by no environment variable of the ${service} task definition` };
    return { arn: `${head}${bound}` };
  }
}
