/**
 * The rollback Lambda's code, inline in the template (no asset to build or upload): on the
 * comparison alarm entering ALARM it sets the share parameter to "0", so the intake sends no new
 * task to the candidate within its share cache while the candidate's lanes drain. Plain CommonJS on
 * the Lambda runtime's bundled AWS SDK; test/lib/canary-rollback.test.ts runs this exact text.
 *
 * Idempotent: another ALARM event (or a retry by EventBridge) writes "0" again.
 */
export const ROLLBACK_HANDLER_ENV = { shareParam: 'SHARE_PARAM' } as const;

export const ROLLBACK_HANDLER_SOURCE = `
const { SSMClient, PutParameterCommand } = require('@aws-sdk/client-ssm');
const ssm = new SSMClient({});
exports.handler = async (event) => {
  const detail = (event && event.detail) || {};
  const state = (detail.state && detail.state.value) || 'unknown';
  if (state !== 'ALARM') {
    console.log(JSON.stringify({ event: 'canary.rollback_skipped', state, alarm: detail.alarmName }));
    return { rolledBack: false, state };
  }
  const name = process.env.${ROLLBACK_HANDLER_ENV.shareParam};
  await ssm.send(new PutParameterCommand({ Name: name, Value: '0', Overwrite: true }));
  console.log(JSON.stringify({ event: 'canary.rolled_back', parameter: name, alarm: detail.alarmName, reason: detail.state && detail.state.reason }));
  return { rolledBack: true, parameter: name };
};
`;
