/**
 * Secret-looking strings that must never ship in a bundle or source map: AWS access keys, AWS
 * secret keys in assignment form, Anthropic API keys, PEM private keys and GitHub tokens.
 */
export const SECRET_PATTERNS: readonly { readonly name: string; readonly pattern: RegExp }[] = [
  { name: 'AWS access key ID', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { name: 'AWS secret access key', pattern: /aws_?secret_?access_?key["']?\s*[=:]\s*["']?[A-Za-z0-9/+=]{40}\b/gi },
  { name: 'Anthropic API key', pattern: /\bsk-ant-(?:api|admin)?[A-Za-z0-9_-]{20,}/g },
  { name: 'private key', pattern: /-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----/g },
  { name: 'GitHub token', pattern: /\bgh[pousr]_[A-Za-z0-9]{36}\b/g },
];

export interface SecretHit {
  readonly file: string;
  readonly kind: string;
  /** Only the first characters, so a real hit is not reprinted in test output. */
  readonly preview: string;
}

export function findSecrets(file: string, text: string): SecretHit[] {
  return SECRET_PATTERNS.flatMap(({ name, pattern }) =>
    [...text.matchAll(pattern)].map((m) => ({ file, kind: name, preview: `${m[0].slice(0, 8)}…` })),
  );
}
