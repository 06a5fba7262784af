import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';
import { putMetricDataInput } from '../../../runtime/src/shared/cloudwatch-demand-sink';
import { EmfMetrics, type Dimensions } from '../../../runtime/src/shared/metrics';
import { DIMENSIONS, METRIC_NAMESPACE, METRICS, SERVICES, type MetricName, type ServiceName } from '../../../runtime/src/shared/metrics-contract';

const RUNTIME_SRC = resolve(__dirname, '../../../runtime/src');

/** One `metrics.emit([...], dims)` call in the runtime's source, or a call of a local helper that emits. */
export interface EmitSite {
  /** runtime/src-relative path and line, for messages. */
  readonly at: string;
  readonly metrics: readonly MetricName[];
  /** CloudWatch dimension names the call (or a `.with()` in its file) sets beyond Stage and Service. */
  readonly dimensions: readonly string[];
  /** The services whose process runs this file (its own folder, or every service importing a shared file). */
  readonly services: readonly ServiceName[];
}

/** A metric as CloudWatch will hold it: name, service (undefined: no Service dimension) and one dimension set (sorted names). */
export interface EmittedSeries {
  readonly metric: string;
  readonly service: ServiceName | undefined;
  readonly dimensions: readonly string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
}

/** Files each service's entry point (runtime/src/<service>/main.ts) reaches through relative imports. */
function importClosures(files: readonly string[]): Map<ServiceName, Set<string>> {
  const known = new Set(files);
  const importsOf = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, false);
    importsOf.set(
      file,
      info.importedFiles
        .map((i) => i.fileName)
        .filter((name) => name.startsWith('.'))
        .map((name) => resolve(dirname(file), `${name}.ts`))
        .filter((path) => known.has(path)),
    );
  }
  const closures = new Map<ServiceName, Set<string>>();
  for (const service of Object.values(SERVICES)) {
    const seen = new Set<string>();
    const stack = [join(RUNTIME_SRC, service, 'main.ts')];
    while (stack.length > 0) {
      const file = stack.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      stack.push(...(importsOf.get(file) ?? []));
    }
    closures.set(service, seen);
  }
  return closures;
}

/** `OBJ.key` property accesses inside `node`, as keys. */
function accessesOf(node: ts.Node, object: string): string[] {
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === object) found.push(n.name.text);
    ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
}

/** The nearest declaration of a local `name` (const or function) in a scope enclosing `from`. */
function localDeclaration(from: ts.Node, name: string): ts.Node | undefined {
  for (let scope: ts.Node | undefined = from.parent; scope !== undefined; scope = scope.parent) {
    if (!ts.isBlock(scope) && !ts.isSourceFile(scope)) continue;
    for (const statement of scope.statements) {
      if (ts.isFunctionDeclaration(statement) && statement.name?.text === name) return statement;
      if (!ts.isVariableStatement(statement)) continue;
      for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name) && d.name.text === name && d.initializer !== undefined) return d.initializer;
    }
  }
  return undefined;
}

/**
 * DIMENSIONS.x names set by an emit call's dimensions argument, following local helpers and
 * variables it uses (`lane(e.lane)`, `{ ...dims, ... }`) one level deep.
 */
function dimensionKeysOf(arg: ts.Node | undefined): string[] {
  if (arg === undefined) return [];
  const keys = accessesOf(arg, 'DIMENSIONS');
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n) && !(ts.isPropertyAccessExpression(n.parent) && n.parent.name === n)) {
      const declaration = localDeclaration(arg, n.text);
      if (declaration !== undefined) keys.push(...accessesOf(declaration, 'DIMENSIONS'));
    }
    ts.forEachChild(n, visit);
  };
  visit(arg);
  return keys;
}

/** Every metrics `emit` call in runtime/src with the metrics it writes and the dimensions it sets. */
export function runtimeEmitSites(): EmitSite[] {
  const files = sourceFiles(RUNTIME_SRC);
  const closures = importClosures(files);
  const sites: EmitSite[] = [];
  for (const file of files) {
    const source = parse(file);
    const services = [...closures.entries()].filter(([, files]) => files.has(file)).map(([service]) => service);
    const bound: string[] = [];
    const calls: ts.CallExpression[] = [];
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) {
        const method = n.expression.name.text;
        // Dimensions bound with `.with({...})` in the file apply to what the file emits.
        if (method === 'with') bound.push(...n.arguments.flatMap((a) => accessesOf(a, 'DIMENSIONS')));
        if (method === 'emit' && n.arguments[0] !== undefined && accessesOf(n.arguments[0], 'METRICS').length > 0) calls.push(n);
      }
      // A local helper that emits (`count(METRICS.x, key, dims)`): each call of it is an emit site.
      if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.arguments.some((a) => accessesOf(a, 'METRICS').length > 0)) {
        const helper = localDeclaration(n, n.expression.text);
        if (helper !== undefined && /\.emit\(/.test(helper.getText())) calls.push(n);
      }
      ts.forEachChild(n, visit);
    };
    visit(source);
    for (const call of calls) {
      // `emit(data, dimensions)`: the metrics are in the first argument; a helper's may be anywhere.
      const isEmit = ts.isPropertyAccessExpression(call.expression);
      const metricKeys = isEmit ? accessesOf(call.arguments[0] as ts.Node, 'METRICS') : call.arguments.flatMap((a) => accessesOf(a, 'METRICS'));
      const dimensionArgs = isEmit ? [call.arguments[1]] : call.arguments.filter((a) => accessesOf(a, 'METRICS').length === 0);
      const dimensionKeys = [...dimensionArgs.flatMap((a) => dimensionKeysOf(a)), ...bound];
      const line = source.getLineAndCharacterOfPosition(call.getStart()).line + 1;
      sites.push({
        at: `${relative(RUNTIME_SRC, file)}:${line}`,
        metrics: metricKeys.map((k) => {
          const name = (METRICS as Record<string, MetricName>)[k];
          if (name === undefined) throw new Error(`${relative(RUNTIME_SRC, file)}:${line} emits METRICS.${k}, which the contract does not define`);
          return name;
        }),
        dimensions: [...new Set(dimensionKeys.map((k) => (DIMENSIONS as Record<string, string>)[k] ?? `unknown:${k}`))],
        services,
      });
    }
  }
  return sites;
}

/**
 * The dimension sets CloudWatch gets for one emit, from the runtime's own EmfMetrics. A probe
 * dimension stands in for whatever else the process binds (prompt version, model), so only the
 * sets EmfMetrics guarantees whatever is bound remain: the [Stage, Service] rollup and its
 * [Stage, Service, X] breakdowns.
 */
async function guaranteedDimensionSets(metric: MetricName, service: ServiceName, dimensions: readonly string[]): Promise<string[][]> {
  const lines: string[] = [];
  const probe = 'ProbeBoundElsewhere';
  const bound = { [DIMENSIONS.stage]: 'prod', [DIMENSIONS.service]: service, [probe]: 'x' } as Dimensions;
  const emf = new EmfMetrics({ dimensions: bound, write: (line) => lines.push(line) });
  emf.emit([{ name: metric, value: 1 }], Object.fromEntries(dimensions.map((d) => [d, 'x'])) as Dimensions);
  await emf.flush();
  const records = lines.flatMap((l) => l.split('\n')).filter((l) => l.trim() !== '');
  const sets = records.flatMap((l) => (JSON.parse(l) as { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } })._aws.CloudWatchMetrics.flatMap((m) => m.Dimensions));
  return sets.filter((set) => !set.includes(probe)).map((set) => [...set].sort());
}

/** Every (metric, service, dimension set) the runtime's emit calls put into CloudWatch. */
export async function emittedSeries(sites: readonly EmitSite[] = runtimeEmitSites()): Promise<EmittedSeries[]> {
  const out: EmittedSeries[] = [];
  for (const site of sites) {
    for (const service of site.services) {
      for (const metric of site.metrics) {
        for (const dimensions of await guaranteedDimensionSets(metric, service, site.dimensions)) out.push({ metric, service, dimensions });
      }
    }
  }
  return out;
}

/**
 * The queue-demand readings the intake publishes with PutMetricData rather than EMF (high
 * resolution, only a Stage dimension), built by the runtime's own request builder.
 */
export function publishedSeries(): EmittedSeries[] {
  const input = putMetricDataInput('prod', { atMs: 0, backlog: 1, inFlight: 1, arrivals: 0 });
  if (input.Namespace !== METRIC_NAMESPACE) return [];
  return (input.MetricData ?? []).map((d) => ({ metric: String(d.MetricName), service: undefined, dimensions: (d.Dimensions ?? []).map((x) => String(x.Name)).sort() }));
}

export const seriesKey = (s: EmittedSeries): string => `${s.metric} [${s.dimensions.join(',')}]${s.service === undefined ? '' : ` Service=${s.service}`}`;
