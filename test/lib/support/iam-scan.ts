/** Action strings in every IAM policy document of a template (inline, managed, role policies). */
export function iamActions(template: Record<string, unknown>): Array<{ resource: string; action: string }> {
  const found: Array<{ resource: string; action: string }> = [];
  const resources = (template['Resources'] ?? {}) as Record<string, { Type: string; Properties?: Record<string, any> }>;
  for (const [id, r] of Object.entries(resources)) {
    const docs: unknown[] = [];
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') docs.push(r.Properties?.['PolicyDocument']);
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of (r.Properties?.['Policies'] ?? []) as Array<{ PolicyDocument: unknown }>) docs.push(p.PolicyDocument);
    }
    for (const doc of docs) {
      for (const statement of ((doc as { Statement?: unknown[] } | undefined)?.Statement ?? []) as Array<Record<string, unknown>>) {
        for (const key of ['Action', 'NotAction']) {
          const value = statement[key];
          for (const action of value === undefined ? [] : Array.isArray(value) ? value : [value]) found.push({ resource: id, action: String(action) });
        }
      }
    }
  }
  return found;
}

/** Actions that grant more than they name: `*`, `service:*`, `service:Get*`, `kms:ReEncrypt*`. */
export function wildcardActions(template: Record<string, unknown>): Array<{ resource: string; action: string }> {
  return iamActions(template).filter(({ action }) => action.includes('*') || action.includes('?'));
}
