/**
 * cdk.json sets every feature flag aws-cdk-lib recommends, so a CDK upgrade never changes the
 * template behind our back and new projects' defaults apply here too. A flag kept off its
 * recommended value is listed below with the reason; the test fails on an unlisted deviation,
 * on a listed one that no longer deviates, and on a flag cdk.json leaves unset.
 */
import { CURRENTLY_RECOMMENDED_FLAGS } from 'aws-cdk-lib/cx-api';
import { cdkJsonContext } from '../lib/support/synth-stage';

/** Flags deliberately kept off their recommended value, with why. */
const DEVIATIONS: Readonly<Record<string, { readonly value: unknown; readonly reason: string }>> = {
  '@aws-cdk/core:defaultCrossStackReferences': {
    value: 'strong',
    reason:
      'Services import the Data and Network stacks\' tables, queues and keys; strong references (exports) stop a producer stack from being deleted or changed under a running consumer, which weak references (Fn::GetStackOutput) allow.',
  },
  '@aws-cdk/core:annotationsInValidationReport': {
    value: false,
    reason:
      'With it on, the services stack\'s "needs the image digest" error fails the whole app\'s synth, so `cdk deploy prod/Registry` could not run before the first image exists (the documented first-deploy order). Annotations still fail any synth or deploy that selects that stack.',
  },
};

const context = cdkJsonContext();

describe('CDK feature flags (cdk.json)', () => {
  test.each(Object.keys(CURRENTLY_RECOMMENDED_FLAGS).sort())('GIVEN the recommended flag %s WHEN cdk.json is read THEN it is set as recommended or listed with a reason', (flag) => {
    expect(Object.keys(context)).toContain(flag);
    const deviation = DEVIATIONS[flag];
    const recommended = (CURRENTLY_RECOMMENDED_FLAGS as Record<string, unknown>)[flag];
    if (deviation === undefined) {
      expect({ flag, value: context[flag] }).toEqual({ flag, value: recommended });
    } else {
      expect({ flag, value: context[flag] }).toEqual({ flag, value: deviation.value });
      // A listed deviation that now matches the recommendation is stale: remove it from the list.
      expect({ flag, value: deviation.value }).not.toEqual({ flag, value: recommended });
    }
  });
});
