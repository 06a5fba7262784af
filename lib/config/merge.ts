/**
 * Partial of a configuration object at any depth. Arrays are whole values: a patch that sets one
 * replaces it, since a list of AZs or e-mails merged element by element would mean something else.
 */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * `patch` laid over `base`: objects merge key by key, everything else (scalars, arrays) replaces.
 * A key a patch sets to `undefined` is left as the base has it. Neither input is modified.
 */
export function deepMerge<T>(base: T, patch: DeepPartial<T> | undefined): T {
  if (patch === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch as T;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    out[key] = key in out ? deepMerge(out[key], value as DeepPartial<unknown>) : value;
  }
  return out as T;
}
