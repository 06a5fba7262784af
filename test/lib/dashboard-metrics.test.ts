import { SPEND_CEILING_PAGE_SHARE } from '../../lib/constructs/agent-alarms';
import { DIMENSIONS, METRICS, METRIC_NAMESPACE } from '../../runtime/src/shared/metrics-contract';
import { emittedSeries, publishedSeries, runtimeEmitSites, seriesKey, type EmittedSeries } from './support/runtime-emitters';
import { STACK_KEYS, resourcesOf, synthStage } from './support/synth-stage';

type Json = Record<string, any>;

/** One runtime metric the template reads: where, which metric, and with which dimensions. */
interface MetricRef {
  readonly where: string;
  readonly metric: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

const prod = synthStage('prod');

/** The dashboard body as CloudWatch gets it, CloudFormation tokens (queue names, ARNs) as placeholders. */
function dashboardBody(): Json {
  const dashboards = resourcesOf(prod.json.observability, 'AWS::CloudWatch::Dashboard');
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]?.[1]['DashboardBody'] as string | { 'Fn::Join': [string, unknown[]] };
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(body['Fn::Join'][0]);
  return JSON.parse(text) as Json;
}

/** `SEARCH('{OpenClaw,Stage,Service,X} MetricName="M" Stage="s" Service="v"', ...)` as the series it searches. */
function searchRef(where: string, expression: string): MetricRef | undefined {
  const search = /SEARCH\('\{([^}]*)\} MetricName="([^"]+)"((?: \w+="[^"]*")*)'/.exec(expression);
  if (search === null) return undefined;
  const [namespace, ...schema] = (search[1] as string).split(',');
  if (namespace !== METRIC_NAMESPACE) return undefined;
  const fixed = Object.fromEntries([...(search[3] as string).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] as string, m[2] as string]));
  // Schema keys without a fixed value are the breakdown: one line per value.
  return { where, metric: search[2] as string, dimensions: Object.fromEntries(schema.map((k) => [k, fixed[k] ?? '*'])) };
}

/** Every OpenClaw metric the dashboard plots, plain or inside a SEARCH. */
function dashboardRefs(body: Json): MetricRef[] {
  const refs: MetricRef[] = [];
  for (const widget of body['widgets'] as Json[]) {
    const title = String(widget['properties']?.['title'] ?? widget['type']);
    for (const entry of (widget['properties']?.['metrics'] ?? []) as unknown[][]) {
      const head = entry[0];
      if (typeof head === 'object' && head !== null) {
        const expression = String((head as Json)['expression'] ?? '');
        // Only searches of the runtime's namespace; the standard sections search AWS namespaces.
        if (expression.includes(`SEARCH('{${METRIC_NAMESPACE},`)) {
          const ref = searchRef(title, expression);
          if (ref === undefined) throw new Error(`dashboard widget "${title}": a SEARCH the test cannot read: ${expression}`);
          refs.push(ref);
        }
        continue;
      }
      if (head !== METRIC_NAMESPACE) continue;
      const pairs = entry.slice(2).filter((v) => typeof v === 'string') as string[];
      const dimensions: Record<string, string> = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i] as string] = pairs[i + 1] as string;
      refs.push({ where: title, metric: String(entry[1]), dimensions });
    }
  }
  return refs;
}

/** Every OpenClaw metric an alarm of the stage watches (single metric or metric math), in every stack. */
function alarmRefs(): MetricRef[] {
  const refs: MetricRef[] = [];
  for (const key of STACK_KEYS) {
    for (const [id, alarm] of resourcesOf(prod.json[key], 'AWS::CloudWatch::Alarm')) {
      const stats: Json[] = alarm['Namespace'] !== undefined ? [alarm] : ((alarm['Metrics'] ?? []) as Json[]).flatMap((m) => (m['MetricStat'] ? [m['MetricStat']['Metric']] : []));
      for (const m of stats) {
        if (m['Namespace'] !== METRIC_NAMESPACE) continue;
        const dimensions = Object.fromEntries(((m['Dimensions'] ?? []) as Json[]).map((d) => [String(d['Name']), String(d['Value'])]));
        refs.push({ where: `${key}/${id}`, metric: String(m['MetricName']), dimensions });
      }
    }
  }
  return refs;
}

/** Why `ref` reads nothing the runtime emits, or undefined when it reads an emitted series. */
function mismatch(ref: MetricRef, emitted: readonly EmittedSeries[]): string | undefined {
  const { [DIMENSIONS.stage]: stage, [DIMENSIONS.service]: service } = ref.dimensions;
  const names = Object.keys(ref.dimensions).sort();
  if (stage !== 'prod') return `${ref.where}: ${ref.metric} reads Stage=${stage}, not this stage`;
  const key = seriesKey({ metric: ref.metric, service: service as EmittedSeries['service'], dimensions: names });
  if (emitted.some((s) => seriesKey(s) === key)) return undefined;
  const same = emitted.filter((s) => s.metric === ref.metric).map(seriesKey);
  return `${ref.where}: reads ${key}; the runtime emits ${same.length > 0 ? same.join('; ') : 'no such metric'}`;
}

describe('the dashboard and alarms read only what the runtime emits (prod)', () => {
  const body = dashboardBody();
  const widgets = body['widgets'] as Json[];
  const fromDashboard = dashboardRefs(body);
  const fromAlarms = alarmRefs();
  let emitted: EmittedSeries[];
  beforeAll(async () => {
    emitted = [...(await emittedSeries(runtimeEmitSites())), ...publishedSeries()];
  });

  it('GIVEN the runtime source WHEN scanned THEN its emit calls are found, with the dimensions they set (the scan itself works)', () => {
    const sites = runtimeEmitSites();
    const site = (metric: string) => sites.find((s) => s.metrics.includes(metric as never));
    // A helper (`lane(e.lane)`) and a spread variable (`{ ...dims, FinishReason }`) are followed; `.with()` bindings count.
    expect(site(METRICS.gatewayRejected)).toMatchObject({ dimensions: [DIMENSIONS.lane], services: ['gateway'] });
    // Through the gateway's counting helper (`count(METRICS.x, key, dims)`) too.
    expect(site(METRICS.gatewayFallbacks)).toMatchObject({ dimensions: [DIMENSIONS.model], services: ['gateway'] });
    expect(site(METRICS.finishReason)?.dimensions).toEqual(expect.arrayContaining([DIMENSIONS.finishReason, DIMENSIONS.model, DIMENSIONS.agentVersion]));
    expect(site(METRICS.budgetExceeded)).toMatchObject({ dimensions: [DIMENSIONS.budget], services: ['worker'] });
    expect(emitted.map(seriesKey)).toEqual(expect.arrayContaining([`${METRICS.budgetExceeded} [Budget,Service,Stage] Service=worker`]));
    // Model is not a breakdown: no [Stage, Service, Model] rollup is guaranteed.
    expect(emitted.map(seriesKey)).not.toContain(`${METRICS.gatewayFallbacks} [Model,Service,Stage] Service=gateway`);
  });

  it('GIVEN every widget WHEN its runtime metrics are listed THEN each is a contract metric that the named service emits with exactly those dimensions', () => {
    expect(fromDashboard.length).toBeGreaterThan(15);
    const contract = new Set<string>(Object.values(METRICS));
    expect(fromDashboard.filter((r) => !contract.has(r.metric))).toEqual([]);
    expect(fromDashboard.map((r) => mismatch(r, emitted)).filter((m) => m !== undefined)).toEqual([]);
  });

  it('GIVEN every alarm on a runtime metric WHEN listed THEN each reads a series the runtime emits', () => {
    expect(fromAlarms.length).toBeGreaterThan(8);
    expect(fromAlarms.map((r) => mismatch(r, emitted)).filter((m) => m !== undefined)).toEqual([]);
  });

  it('GIVEN the guardrails row WHEN drawn THEN it shows budgets exceeded by budget, loops caught, spend-ceiling use with the page line, and fallbacks served', () => {
    const plotted = (title: string) => fromDashboard.filter((r) => r.where === title);
    expect(plotted('Budgets exceeded (tasks, by budget)')).toEqual([
      { where: 'Budgets exceeded (tasks, by budget)', metric: METRICS.budgetExceeded, dimensions: { Stage: 'prod', Service: 'worker', Budget: '*' } },
    ]);
    expect(plotted('Loops caught (warned or failed)').map((r) => r.metric)).toEqual([METRICS.loopsDetected]);
    expect(plotted('Fallbacks served').map((r) => r.metric)).toEqual([METRICS.gatewayFallbacks]);

    const spend = widgets.find((w) => w['properties']?.['title'] === 'Spend ceiling use (%)');
    const metrics = spend?.['properties']['metrics'] as unknown[][];
    // Percent of the ceiling: 100 × the gateway's share, the page line where the alarm fires.
    expect(metrics).toEqual(expect.arrayContaining([[expect.objectContaining({ expression: '100 * use' })]]));
    expect(plotted('Spend ceiling use (%)')).toEqual([expect.objectContaining({ metric: METRICS.gatewaySpendCeilingUse, dimensions: { Stage: 'prod', Service: 'gateway' } })]);
    expect(spend?.['properties']['annotations']).toEqual({ horizontal: [expect.objectContaining({ value: SPEND_CEILING_PAGE_SHARE * 100, label: 'page at 80%' })] });
  });

  it('GIVEN the spend page alarm and the budget ticket alarm WHEN synthesized THEN they exist, route by severity and watch emitted series', () => {
    const byDescription = (pattern: RegExp) => resourcesOf(prod.json.observability, 'AWS::CloudWatch::Alarm').filter(([, p]) => pattern.test(String(p['AlarmDescription'] ?? '')));
    const spend = byDescription(/spend at 80% or more of the stage ceiling/);
    expect(spend).toHaveLength(1);
    expect(spend[0]?.[1]).toMatchObject({ MetricName: METRICS.gatewaySpendCeilingUse, Statistic: 'Maximum', Threshold: SPEND_CEILING_PAGE_SHARE, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(spend[0]?.[1]['AlarmActions']).toEqual([{ Ref: expect.stringMatching(/^TopicsPage/) }]);
    const budget = byDescription(/ran out of a budget/);
    expect(budget).toHaveLength(1);
    expect(budget[0]?.[1]['AlarmActions']).toEqual([{ Ref: expect.stringMatching(/^TopicsTicket/) }]);
    for (const [id] of [...spend, ...budget]) {
      const refs = fromAlarms.filter((r) => r.where === `observability/${id}`);
      expect(refs.length).toBeGreaterThan(0);
      expect(refs.map((r) => mismatch(r, emitted)).filter((m) => m !== undefined)).toEqual([]);
    }
  });
});
