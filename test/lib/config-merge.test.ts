import { deepMerge } from '../../lib/config/merge';

describe('deepMerge (stage differences over the base)', () => {
  const base = { a: 1, nested: { keep: 'base', change: 'base' }, list: ['x', 'y'] };

  test('GIVEN a nested patch WHEN merged THEN only the keys it names change', () => {
    expect(deepMerge(base, { nested: { change: 'patch' } })).toEqual({ a: 1, nested: { keep: 'base', change: 'patch' }, list: ['x', 'y'] });
  });

  test('GIVEN a patch with a list WHEN merged THEN the list is replaced, not merged element by element', () => {
    expect(deepMerge(base, { list: ['z'] }).list).toEqual(['z']);
  });

  test('GIVEN a patch with an undefined key WHEN merged THEN the base value stays and the base is not modified', () => {
    // A JSON config or a spread can still carry an explicit undefined past the type.
    const merged = deepMerge(base, { a: undefined, nested: { keep: 'p' } } as never);
    expect(merged.a).toBe(1);
    expect(base.nested.keep).toBe('base');
  });
});
