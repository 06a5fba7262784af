import { STAGE_CONFIGS, parseStageConfig } from '../../lib/config';
import { agentProfiles } from '../../lib/config/agents';
import { parseAgentProfilesJson } from '../../runtime/src/shared/agent-profiles';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The dev stage with these agents instead of its own. */
function withAgents(agents: unknown, patch: (input: Record<string, any>) => void = () => undefined): Record<string, any> {
  const input = clone(STAGE_CONFIGS.dev) as Record<string, any>;
  input['agents'] = agents;
  patch(input);
  return input;
}

const assistant = { name: 'assistant', default: true, tools: ['calculator', 'record_note'] };
const researcher = { name: 'researcher', prompts: 'researcher', tools: ['http_fetch'], modelTier: 'haiku', budget: { maxSteps: 20 } };

describe('stage configuration: agents are validated at synth', () => {
  it('GIVEN the example agents WHEN parsed THEN each keeps its prompts, tools and budget, and its tier resolves to the tier\'s first model', () => {
    const config = parseStageConfig(withAgents([assistant, researcher]));
    const profiles = agentProfiles(config.agents ?? [], config.services.gateway.limits);
    expect(profiles).toEqual([
      { name: 'assistant', default: true, prompts: '.', tools: ['calculator', 'record_note'] },
      { name: 'researcher', prompts: 'researcher', tools: ['http_fetch'], model: 'claude-haiku-5-5', modelTier: 'haiku', budget: { maxSteps: 20 } },
    ]);
    // What the template passes is what the worker accepts.
    expect(parseAgentProfilesJson(JSON.stringify(profiles)).defaultAgent).toBe('assistant');
  });

  it('GIVEN a tier defined by the stage\'s own gateway limits WHEN parsed THEN the agent gets that tier\'s model', () => {
    const input = withAgents([assistant, { ...researcher, modelTier: 'cheap' }], (i) => {
      i['services']['gateway']['limits'] = { tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: 50, itpm: 30000, otpm: 8000 }, cheap: { models: ['claude-haiku-5-5-20260101'], rpm: 50, itpm: 30000, otpm: 8000 } } };
    });
    const config = parseStageConfig(input);
    expect(agentProfiles(config.agents ?? [], config.services.gateway.limits)[1]?.model).toBe('claude-haiku-5-5-20260101');
  });

  it.each([
    ['duplicate names', [assistant, { ...researcher, name: 'assistant' }], /agents\.1\.name="assistant": "assistant" is used twice; give every agent its own name/],
    ['an unknown tool', [{ ...assistant, tools: ['calculator', 'shell'] }], /agents\.0\.tools\.1="shell": unknown tool "shell"; list built-in tool names, each once, from: calculator, record_note, http_fetch/],
    ['an unknown tier', [assistant, { ...researcher, modelTier: 'mega' }], /agents\.1\.modelTier="mega": unknown tier "mega"; use one of the gateway's tiers \(sonnet, opus, haiku\), add it to services\.gateway\.limits\.tiers, or leave modelTier out/],
    ['no default', [{ ...assistant, default: false }, researcher], /agents=.*: no agent is the default; set "default": true on the one tasks get when they name none \(one of assistant, researcher\)/],
    ['two defaults', [assistant, { ...researcher, default: true }], /agents=.*: assistant and researcher are both marked default; keep "default": true on exactly one agent/],
    ['no agents', [], /agents=\[\]: define at least one agent/],
    ['a prompts folder that does not exist', [assistant, { ...researcher, prompts: 'writer' }], /agents\.1\.prompts="writer": prompts\/writer does not exist; create it with a system\.md/],
    ['a prompts folder outside prompts/', [assistant, { ...researcher, prompts: '../etc' }], /agents\.1\.prompts="\.\.\/etc": must be "\." \(prompts\/ itself\) or a folder under prompts\//],
    ['a name that cannot be a dimension', [{ ...assistant, name: 'Research Bot' }], /agents\.0\.name="Research Bot": must be 1-32 lower-case letters/],
    ['an MCP server without a URL', [{ ...assistant, mcpServers: [{ name: 'docs' }] }], /agents\.0\.mcpServers\.0\.url/],
    ['a budget field that does not exist', [{ ...assistant, budget: { maxDollars: 3 } }], /agents\.0\.budget/],
  ])('GIVEN %s WHEN parsed THEN synth fails naming the key and the fix', (_what, agents, message) => {
    expect(() => parseStageConfig(withAgents(agents))).toThrow(message);
  });

  it('GIVEN services.worker.tools beside agents WHEN parsed THEN synth fails saying to move them into the agents', () => {
    const input = withAgents([assistant], (i) => (i['services']['worker']['tools'] = ['calculator']));
    expect(() => parseStageConfig(input)).toThrow(/services\.worker\.tools=\["calculator"\]: the stage defines agents, which list their own tools; move these into agents\[\]\.tools/);
  });

  it('GIVEN every stage as shipped WHEN parsed THEN each has the two example agents, assistant the default', () => {
    for (const stage of ['dev', 'staging', 'prod'] as const) {
      const agents = parseStageConfig(STAGE_CONFIGS[stage]).agents ?? [];
      expect(agents.map((a) => [a.name, a.default === true])).toEqual([
        ['assistant', true],
        ['researcher', false],
      ]);
    }
  });
});
