import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { errorMessage } from '../shared/errors';
import { killSwitchPauses } from '../shared/kill-switch-contract';
import type { Logger } from '../shared/logger';
import { sleep, type PollGate } from './poll-gate';

export interface KillSwitchOptions {
  /** Injected so tests and local runs need no AWS. */
  readonly ssm: Pick<SSMClient, 'send'>;
  /** The SSM parameter name (env KILL_SWITCH_PARAM). */
  readonly parameterName: string;
  readonly logger: Logger;
  /** @default 30_000 */
  readonly intervalMs?: number;
}


/**
 * Operators pause every worker by setting one SSM parameter, without a deploy. The worker reads it
 * every ~30 s; a read error keeps the last known state, so an SSM outage neither stops nor
 * unpauses the fleet.
 */
export class KillSwitch {
  private readonly intervalMs: number;
  private controller: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: KillSwitchOptions) {
    this.intervalMs = options.intervalMs ?? 30_000;
  }

  /** Read the parameter once: true means paused. Exposed for tests and the first read at start. */
  async read(): Promise<boolean> {
    try {
      const out = await this.options.ssm.send(new GetParameterCommand({ Name: this.options.parameterName }));
      return killSwitchPauses(out.Parameter?.Value);
    } catch (err) {
      if (err instanceof Error && err.name === 'ParameterNotFound') return false;
      throw err;
    }
  }

  /** Apply the switch to `gate` now (awaited, so a paused fleet never polls at start), then every interval. */
  async start(gate: PollGate): Promise<void> {
    if (this.loop !== undefined) return;
    const controller = new AbortController();
    this.controller = controller;
    const apply = async () => {
      try {
        if (await this.read()) gate.pause('kill_switch');
        else gate.resume('kill_switch');
      } catch (err) {
        this.options.logger.warn('kill_switch.read_failed', { parameter: this.options.parameterName, error: errorMessage(err) });
      }
    };
    await apply();
    this.loop = (async () => {
      while (!controller.signal.aborted) {
        await sleep(this.intervalMs, controller.signal);
        if (!controller.signal.aborted) await apply();
      }
    })();
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    await this.loop;
    this.loop = undefined;
  }
}
