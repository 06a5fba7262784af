import { classifyStreamError, classifyUpstream, errorTypeFor, retryHeaders, type UpstreamOutcome } from '../../../runtime/src/gateway/error-map';
import { CircuitOpenError, RateLimitedError } from '../../../runtime/src/gateway/gateway-errors';

const spendLimitBody = JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'spend', details: { error_code: 'enforced_spend_limit_reached' } } });
const rateLimitBody = JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } });

describe('error map: one table for statuses, types and retry headers', () => {
  test.each<[number, string]>([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [413, 'request_too_large'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [502, 'api_error'],
    [503, 'overloaded_error'],
    [504, 'api_error'],
    [529, 'overloaded_error'],
    [599, 'api_error'],
  ])('GIVEN status %i WHEN the gateway names its type THEN it is %s, as the provider does', (status, type) => {
    expect(errorTypeFor(status)).toBe(type);
  });

  test.each<[number, string | undefined, UpstreamOutcome]>([
    [200, undefined, 'success'],
    [400, undefined, 'caller_error'],
    [401, undefined, 'caller_error'],
    [413, undefined, 'caller_error'],
    [429, rateLimitBody, 'rate_limited'],
    [429, spendLimitBody, 'spend_limit'],
    [429, 'not json', 'rate_limited'],
    [500, undefined, 'provider_failure'],
    [529, undefined, 'provider_failure'],
  ])('GIVEN an upstream %i WHEN classified THEN %s', (status, body, outcome) => {
    expect(classifyUpstream(status, body)).toBe(outcome);
  });

  test.each<[string | undefined, UpstreamOutcome]>([
    [undefined, 'success'],
    ['overloaded_error', 'provider_failure'],
    ['api_error', 'provider_failure'],
    ['timeout_error', 'provider_failure'],
    ['invalid_request_error', 'caller_error'],
  ])('GIVEN a stream error event %s WHEN classified THEN %s', (type, outcome) => {
    expect(classifyStreamError(type)).toBe(outcome);
  });

  it('GIVEN retry advice WHEN written THEN ms are rounded up, seconds are whole and at least 1, and x-should-retry is explicit', () => {
    expect(retryHeaders({ retryAfterMs: 1234.2 })).toEqual({ 'retry-after-ms': '1235', 'retry-after': '2' });
    expect(retryHeaders({ retryAfterMs: 0 })).toEqual({ 'retry-after-ms': '1', 'retry-after': '1' });
    expect(retryHeaders({ shouldRetry: false })).toEqual({ 'x-should-retry': 'false' });
  });

  it('GIVEN the refusals the gateway writes itself WHEN built THEN they use the table', () => {
    const limited = new RateLimitedError('x', { tier: 't', lane: 'batch', retryAfterMs: 2500, reason: 'deadline' });
    expect([limited.status, limited.type, limited.headers]).toEqual([429, 'rate_limit_error', { 'retry-after-ms': '2500', 'retry-after': '3' }]);
    const open = new CircuitOpenError('m', 100);
    expect([open.status, open.type, open.headers['x-should-retry']]).toEqual([503, 'overloaded_error', 'false']);
  });
});
