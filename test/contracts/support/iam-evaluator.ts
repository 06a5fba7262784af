/**
 * An offline IAM evaluator for identity policies, enough to decide the calls a service makes
 * against its task role: Allow/Deny statements with Action or NotAction (wildcards), Resource or
 * NotResource (wildcards), and Conditions whose operators and keys can be evaluated from what
 * the request carries. A condition on a key the request does not model, an operator not
 * implemented, or a statement whose Resource could not be resolved makes the decision
 * `unevaluable`, with the reason: it is reported, never silently allowed.
 */

export interface ResolvedStatement {
  /** Where it comes from: `<policy logical ID>#<index>`. */
  readonly id: string;
  readonly effect: 'Allow' | 'Deny';
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  readonly resources?: readonly string[];
  readonly notResources?: readonly string[];
  readonly condition?: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
  /** Set when part of the statement could not be resolved from the template. */
  readonly unresolvable?: string;
}

export interface AuthzRequest {
  /** `service:Action`, e.g. `dynamodb:GetItem`. */
  readonly action: string;
  readonly resource: string;
  /** Condition keys the request carries (e.g. `kms:ViaService`). */
  readonly context: Readonly<Record<string, string>>;
}

export type Decision =
  | { readonly decision: 'allow'; readonly by: readonly ResolvedStatement[] }
  | { readonly decision: 'deny'; readonly reason: string }
  | { readonly decision: 'unevaluable'; readonly reason: string };

function wildcard(pattern: string, flags = ''): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}

/** IAM action names are case-insensitive; resources are not. */
export const actionMatches = (pattern: string, action: string): boolean => wildcard(pattern, 'i').test(action);
export const resourceMatches = (pattern: string, resource: string): boolean => wildcard(pattern).test(resource);

type CondResult = true | false | { readonly unevaluable: string };

function evalCondition(condition: ResolvedStatement['condition'], context: AuthzRequest['context']): CondResult {
  for (const [rawOp, block] of Object.entries(condition ?? {})) {
    if (rawOp.includes(':')) return { unevaluable: `set operator ${rawOp} is not evaluated offline` };
    const ifExists = rawOp.endsWith('IfExists');
    const op = ifExists ? rawOp.slice(0, -'IfExists'.length) : rawOp;
    for (const [key, values] of Object.entries(block)) {
      const actual = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
      if (actual === undefined) {
        if (ifExists) continue;
        return { unevaluable: `condition key ${key} (${rawOp}) is not known offline for this call` };
      }
      let ok: boolean;
      switch (op) {
        case 'StringEquals':
        case 'ArnEquals':
          ok = values.includes(actual);
          break;
        case 'StringNotEquals':
        case 'ArnNotEquals':
          ok = !values.includes(actual);
          break;
        case 'StringEqualsIgnoreCase':
          ok = values.some((v) => v.toLowerCase() === actual.toLowerCase());
          break;
        case 'StringLike':
        case 'ArnLike':
          ok = values.some((v) => resourceMatches(v, actual));
          break;
        case 'StringNotLike':
        case 'ArnNotLike':
          ok = !values.some((v) => resourceMatches(v, actual));
          break;
        case 'Bool':
          ok = values.some((v) => v.toLowerCase() === actual.toLowerCase());
          break;
        default:
          return { unevaluable: `condition operator ${rawOp} is not evaluated offline` };
      }
      if (!ok) return false;
    }
  }
  return true;
}

/** Whether the statement applies to the request (ignoring its effect). */
export function statementMatches(s: ResolvedStatement, request: AuthzRequest): CondResult {
  const actionHit = s.actions !== undefined ? s.actions.some((a) => actionMatches(a, request.action)) : !(s.notActions ?? []).some((a) => actionMatches(a, request.action));
  if (!actionHit) return false;
  if (s.unresolvable !== undefined) return { unevaluable: `statement ${s.id}: ${s.unresolvable}` };
  const resourceHit =
    s.resources !== undefined ? s.resources.some((r) => resourceMatches(r, request.resource)) : !(s.notResources ?? []).some((r) => resourceMatches(r, request.resource));
  if (!resourceHit) return false;
  return evalCondition(s.condition, request.context);
}

/** Explicit deny wins, then any allow; otherwise the implicit deny. */
export function evaluate(statements: readonly ResolvedStatement[], request: AuthzRequest): Decision {
  const allows: ResolvedStatement[] = [];
  const unknown: string[] = [];
  for (const s of statements) {
    const hit = statementMatches(s, request);
    if (hit === false) continue;
    if (hit !== true) {
      // A deny that might apply makes any allow uncertain too.
      if (s.effect === 'Deny') return { decision: 'unevaluable', reason: hit.unevaluable };
      unknown.push(hit.unevaluable);
      continue;
    }
    if (s.effect === 'Deny') return { decision: 'deny', reason: `explicitly denied by ${s.id}` };
    allows.push(s);
  }
  if (unknown.length > 0 && allows.length === 0) return { decision: 'unevaluable', reason: unknown.join('; ') };
  if (allows.length > 0) return { decision: 'allow', by: allows };
  return { decision: 'deny', reason: 'no statement allows it (implicit deny)' };
}
