/**
 * Evaluates the subset of CloudWatch metric math that scaling templates use: numbers, query ids,
 * + - * /, comparisons, AND/OR, and the functions IF, FILL, MAX/MIN of two values. An expression
 * outside that subset is rejected, so the simulator never guesses what a policy means.
 */
export class MetricMathError extends Error {}

type Token = { kind: 'num'; value: number } | { kind: 'id'; value: string } | { kind: 'op'; value: string };

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|[-+*/(),<>]))/y;
  let index = 0;
  while (index < expression.length) {
    re.lastIndex = index;
    const m = re.exec(expression);
    if (m === null) {
      if (expression.slice(index).trim() === '') break;
      throw new MetricMathError(`cannot parse metric math ${JSON.stringify(expression)} at position ${index}`);
    }
    index = re.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: 'num', value: Number(m[1]) });
    else if (m[2] !== undefined) tokens.push({ kind: 'id', value: m[2] });
    else if (m[3] !== undefined) tokens.push({ kind: 'op', value: m[3] });
  }
  return tokens;
}

const FUNCTIONS: Record<string, (args: number[]) => number> = {
  IF: ([c, a, b]) => ((c ?? 0) !== 0 ? (a ?? 0) : (b ?? 0)),
  FILL: ([x, v]) => (x === undefined || Number.isNaN(x) ? (v ?? 0) : x),
  MAX: (args) => Math.max(...args),
  MIN: (args) => Math.min(...args),
};

/** Evaluate `expression` with the given values for its ids; division by zero gives NaN (no datapoint). */
export function evaluateMetricMath(expression: string, values: Readonly<Record<string, number>>): number {
  const tokens = tokenize(expression);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isOp = (value: string): boolean => {
    const t = peek();
    return t !== undefined && ((t.kind === 'op' && t.value === value) || (t.kind === 'id' && t.value.toUpperCase() === value));
  };
  const expect = (value: string): void => {
    if (!isOp(value)) throw new MetricMathError(`expected "${value}" in ${JSON.stringify(expression)}`);
    pos += 1;
  };
  const binary = (next: () => number, ops: string[], apply: (op: string, a: number, b: number) => number) => (): number => {
    let left = next();
    for (;;) {
      const op = ops.find((o) => isOp(o));
      if (op === undefined) return left;
      pos += 1;
      left = apply(op, left, next());
    }
  };
  const primary = (): number => {
    const t = peek();
    if (t === undefined) throw new MetricMathError(`unexpected end of ${JSON.stringify(expression)}`);
    pos += 1;
    if (t.kind === 'num') return t.value;
    if (t.kind === 'op' && t.value === '(') {
      const v = or();
      expect(')');
      return v;
    }
    if (t.kind === 'op' && t.value === '-') return -primary();
    if (t.kind === 'id') {
      const fn = FUNCTIONS[t.value.toUpperCase()];
      if (fn !== undefined && isOp('(')) {
        pos += 1;
        const args = [or()];
        while (isOp(',')) {
          pos += 1;
          args.push(or());
        }
        expect(')');
        return fn(args);
      }
      const value = values[t.value];
      if (value === undefined) throw new MetricMathError(`metric math ${JSON.stringify(expression)} uses unknown id ${t.value}`);
      return value;
    }
    throw new MetricMathError(`unexpected "${t.value}" in ${JSON.stringify(expression)}`);
  };
  const product = binary(primary, ['*', '/'], (op, a, b) => (op === '*' ? a * b : b === 0 ? Number.NaN : a / b));
  const sum = binary(product, ['+', '-'], (op, a, b) => (op === '+' ? a + b : a - b));
  const compare = binary(sum, ['>=', '<=', '==', '!=', '>', '<'], (op, a, b) => {
    const r = op === '>=' ? a >= b : op === '<=' ? a <= b : op === '==' ? a === b : op === '!=' ? a !== b : op === '>' ? a > b : a < b;
    return r ? 1 : 0;
  });
  const and = binary(compare, ['AND'], (_op, a, b) => (a !== 0 && b !== 0 ? 1 : 0));
  const or = binary(and, ['OR'], (_op, a, b) => (a !== 0 || b !== 0 ? 1 : 0));
  const result = or();
  if (pos !== tokens.length) throw new MetricMathError(`trailing input in metric math ${JSON.stringify(expression)}`);
  return result;
}
