import { STAGE_CONFIGS, parseStageConfig } from '../../lib/config';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The dev stage without agents: its one implicit agent takes services.worker.tools. */
function withoutAgents(): { agents?: unknown; services: { worker: { tools?: unknown } } } {
  const input = clone(STAGE_CONFIGS.dev) as { agents?: unknown; services: { worker: { tools?: unknown } } };
  delete input.agents;
  return input;
}

describe('stage configuration: the agent\'s tools are validated at synth', () => {
  it('GIVEN a stage without agents and a list of built-in tools WHEN parsed THEN it is kept', () => {
    const input = withoutAgents();
    input.services.worker.tools = ['record_note'];
    expect(parseStageConfig(input).services.worker.tools).toEqual(['record_note']);
  });

  it.each([
    [['calculator', 'shell'], /services\.worker\.tools\.1="shell": unknown tool "shell"/],
    [['calculator', 'calculator'], /services\.worker\.tools=\["calculator","calculator"\]: names a tool twice/],
    [[], /services\.worker\.tools=\[\]: must name at least one tool/],
  ])('GIVEN tools %j WHEN parsed THEN synth fails naming the key and the fix', (tools, message) => {
    const input = withoutAgents();
    input.services.worker.tools = tools;
    expect(() => parseStageConfig(input)).toThrow(message);
  });
});
