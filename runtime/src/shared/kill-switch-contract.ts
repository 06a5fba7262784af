/**
 * The kill-switch parameter's values: the CDK app creates the SSM parameter with exactly these
 * (its allowedPattern), and the worker pauses on `on`. One module, so the two cannot drift.
 */
export const KILL_SWITCH = { on: 'on', off: 'off' } as const;

/** `on` pauses polling; `paused` and `true` are accepted as synonyms for hand-set parameters. */
export function killSwitchPauses(value: string | undefined): boolean {
  const v = (value ?? '').trim().toLowerCase();
  return v === KILL_SWITCH.on || v === 'paused' || v === 'true';
}
