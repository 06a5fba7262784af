/**
 * A container environment value from a synthesized template, with each CloudFormation token stood
 * in for by a value of the shape AWS resolves it to (chosen by the variable's name), so a
 * service's config loader can be run on the environment as deployed.
 */
export function standInFor(name: string, value: unknown, account: string): string {
  if (typeof value === 'string') return value;
  // A joined list (e.g. two lanes' URLs): each part stands for its own value.
  const join = (value as { 'Fn::Join'?: [string, unknown[]] } | null)?.['Fn::Join'];
  if (join !== undefined && Array.isArray(join[1])) return join[1].map((part) => standInFor(name, part, account)).join(join[0]);
  const id = JSON.stringify(value).replace(/[^A-Za-z0-9]/g, '').slice(-24);
  if (name.endsWith('QUEUE_URL') || name.includes('QUEUE_URL_') || name.endsWith('QUEUE_URLS')) return `https://sqs.us-east-1.amazonaws.com/${account}/${id}`;
  if (name.endsWith('_ARN')) return `arn:aws:secretsmanager:us-east-1:${account}:secret:${id}-AbCdEf`;
  return `resolved-${id}`;
}
