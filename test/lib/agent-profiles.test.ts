/**
 * Agent profiles in the synthesized prod stage: the workers (stable and candidate) get every
 * agent's profile, the intake their names, default and budgets, and the dashboard a row per agent.
 */
import { ENV } from '../../runtime/src/shared/config';
import { parseAgentDirectoryJson, parseAgentProfilesJson } from '../../runtime/src/shared/agent-profiles';
import { resourcesOf, synthStage } from './support/synth-stage';

const prod = synthStage('prod');

function envOf(container: string): Array<Record<string, string>> {
  return resourcesOf(prod.json.services, 'AWS::ECS::TaskDefinition')
    .flatMap(([, p]) => p['ContainerDefinitions'] as Array<Record<string, unknown>>)
    .filter((c) => c['Name'] === container)
    .map((c) => Object.fromEntries((c['Environment'] as Array<{ Name: string; Value: string }>).map((e) => [e.Name, e.Value])));
}

describe('agent profiles in the template (prod)', () => {
  test('GIVEN the stage\'s agents WHEN synthesized THEN every worker pool gets AGENTS, which the worker parses to the same profiles', () => {
    const workers = envOf('worker');
    expect(workers).toHaveLength(2); // the stable pool and the canary's candidate
    for (const env of workers) {
      expect(env[ENV.agentTools]).toBeUndefined();
      const set = parseAgentProfilesJson(env[ENV.agents] ?? '');
      expect(set.defaultAgent).toBe('assistant');
      expect(set.agents.map((a) => [a.name, a.prompts, a.tools, a.model ?? env[ENV.model]])).toEqual([
        ['assistant', '.', ['calculator', 'record_note'], 'claude-sonnet-5'],
        ['researcher', 'researcher', ['http_fetch'], 'claude-haiku-5-5'],
      ]);
    }
  });

  test('GIVEN the stage\'s agents WHEN synthesized THEN the intake gets their names, the default and the default budgets only', () => {
    const [intake] = envOf('intake');
    const directory = parseAgentDirectoryJson(intake?.[ENV.intakeAgents]);
    expect(directory).toEqual({ defaultAgent: 'assistant', agents: [{ name: 'assistant', default: true }, { name: 'researcher', budget: { maxSteps: 20 } }] });
  });

  test('GIVEN the dashboard WHEN synthesized THEN it shows completion, cost, tasks and duration by agent from the [Stage, Service, Agent] rollup', () => {
    const body = JSON.stringify(resourcesOf(prod.json.observability, 'AWS::CloudWatch::Dashboard')[0]?.[1]['DashboardBody']);
    for (const title of ['Completion rate by agent (%)', 'Cost by agent (USD per 5 min)', 'Tasks and duration by agent']) expect(body).toContain(title);
    const search = (metric: string, stat: string) => new RegExp(`SEARCH\\('\\{OpenClaw,Stage,Service,Agent\\} MetricName=\\\\+"${metric}\\\\+" Stage=\\\\+"prod\\\\+" Service=\\\\+"worker\\\\+"', '${stat}', 300\\)`);
    expect(body).toMatch(new RegExp(`100 \\* ${search('TasksSucceeded', 'Average').source}`));
    expect(body).toMatch(search('CostPerTaskUsd', 'Sum'));
    expect(body).toMatch(search('TasksStarted', 'Sum'));
    expect(body).toMatch(search('TaskDurationMs', 'p50'));
    expect(body).toContain("${PROP('Dim.Agent')}");
  });
});
