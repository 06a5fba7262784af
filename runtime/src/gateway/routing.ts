import type { RoutingRule } from '../shared/gateway-limits';

/** What a routing rule can look at. */
export interface RoutingInput {
  readonly model: string;
  readonly maxTokens: number;
  /** `x-openclaw-intent`, when the caller sent one. */
  readonly intent?: string;
  readonly system?: unknown;
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  if (Array.isArray(system)) return system.map((b) => (typeof b === 'object' && b !== null && 'text' in b ? String((b as { text: unknown }).text) : '')).join('\n');
  return '';
}

function matches(rule: RoutingRule, input: RoutingInput): boolean {
  const conditions = [
    rule.intent === undefined || rule.intent === input.intent,
    rule.maxTokensAtMost === undefined || input.maxTokens <= rule.maxTokensAtMost,
    rule.systemIncludes === undefined || systemText(input.system).includes(rule.systemIncludes),
  ];
  // A rule with no condition at all would reroute everything: treat it as matching nothing.
  const constrained = rule.intent !== undefined || rule.maxTokensAtMost !== undefined || rule.systemIncludes !== undefined;
  return constrained && conditions.every(Boolean);
}

/** The model a request should go to: the first matching rule's, else the one it asked for. */
export function routeModel(rules: readonly RoutingRule[], input: RoutingInput): { model: string; routed: boolean } {
  for (const rule of rules) if (matches(rule, input)) return { model: rule.model, routed: rule.model !== input.model };
  return { model: input.model, routed: false };
}
