import { scriptedReply, stubFailures, type StubCall, type StubOverride, type StubRequest } from '../../tools/local/stub-model';

/** Tokens the stub counts for a value (its own estimate: about four characters a token). */
const tokens = (value: unknown): number => Math.max(1, Math.ceil(JSON.stringify(value).length / 4));

interface Accepted {
  readonly at: number;
  readonly units: readonly [number, number, number];
}

/**
 * The provider's three per-minute limits per model (requests, input tokens, output tokens),
 * enforced by the stub through `intercept` as continuously refilling buckets holding one minute
 * each; a call that does not fit gets the provider's 429 and is counted. Output is charged what
 * the stub will generate, as the provider settles it.
 */
export class ProviderMeter {
  private readonly level = new Map<string, { units: [number, number, number]; at: number }>();
  private readonly accepted = new Map<string, Accepted[]>();
  rejected = 0;

  constructor(private readonly limits: Readonly<Record<string, readonly [number, number, number]>>) {}

  /** Start a model's buckets this full (share of a minute), as a long overload leaves them. */
  fill(model: string, share: number, now = Date.now()): void {
    const l = this.limits[model];
    if (l === undefined) return;
    this.level.set(model, { units: [l[0] * (1 - share), l[1] * (1 - share), l[2] * (1 - share)], at: now });
  }

  /** Units the provider would accept for `model` right now, per kind (its buckets' free capacity). */
  free(model: string, now = Date.now()): [number, number, number] {
    const limit = this.limits[model];
    if (limit === undefined) return [0, 0, 0];
    const prev = this.level.get(model) ?? { units: [...limit] as [number, number, number], at: now };
    return prev.units.map((u, i) => Math.min(limit[i] ?? 0, u + ((now - prev.at) * (limit[i] ?? 0)) / 60_000)) as [number, number, number];
  }

  /**
   * The share of what the provider made available over [from, to) that was used: units accepted
   * ÷ (the refill over the window + how far the free capacity fell). 100% is every unit the
   * provider would have taken; a stored burst spent in the window does not count as over 100%.
   */
  use(model: string, window: { from: number; to: number; freeAtFrom: readonly number[]; freeAtTo: readonly number[] }, kind: number): number {
    const limit = this.limits[model]?.[kind] ?? 0;
    const available = (limit * (window.to - window.from)) / 60_000 + ((window.freeAtFrom[kind] ?? 0) - (window.freeAtTo[kind] ?? 0));
    return (this.used(model, window.from, window.to)[kind] ?? 0) / Math.max(1e-9, available);
  }

  readonly intercept = (call: StubCall, request: StubRequest): StubOverride | undefined => {
    const limit = this.limits[call.model];
    if (limit === undefined) return undefined;
    const now = Date.now();
    const prev = this.level.get(call.model) ?? { units: [...limit] as [number, number, number], at: now };
    const free = prev.units.map((u, i) => Math.min(limit[i] ?? 0, u + (((now - prev.at) * (limit[i] ?? 0)) / 60_000))) as [number, number, number];
    const cost: [number, number, number] = [1, tokens(request.messages), Math.min(request.max_tokens, tokens(scriptedReply(request).content))];
    if (cost.some((c, i) => c > (free[i] ?? 0) + 1e-6)) {
      this.level.set(call.model, { units: free, at: now });
      this.rejected += 1;
      return stubFailures.rateLimited(1);
    }
    this.level.set(call.model, { units: [free[0] - cost[0], free[1] - cost[1], free[2] - cost[2]], at: now });
    const list = this.accepted.get(call.model) ?? [];
    list.push({ at: now, units: cost });
    this.accepted.set(call.model, list);
    return undefined;
  };

  /** Units accepted for `model` in [from, to), per kind. */
  used(model: string, from: number, to: number): [number, number, number] {
    const sum: [number, number, number] = [0, 0, 0];
    for (const a of this.accepted.get(model) ?? []) {
      if (a.at < from || a.at >= to) continue;
      sum[0] += a.units[0];
      sum[1] += a.units[1];
      sum[2] += a.units[2];
    }
    return sum;
  }
}
