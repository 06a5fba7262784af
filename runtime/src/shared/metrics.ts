import { LocalSink, MetricsLogger } from 'aws-embedded-metrics';
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { DIMENSIONS, METRIC_NAMESPACE, type MetricName } from './metrics-contract';

/** CloudWatch units the runtime uses (a subset of EMF's). */
export type MetricUnit = 'Count' | 'Milliseconds' | 'Seconds' | 'Percent' | 'None';

export type DimensionName = (typeof DIMENSIONS)[keyof typeof DIMENSIONS];

/** Dimension values by CloudWatch name (`Stage`, `Service`, `PromptVersion`, `Model`, ...). */
export type Dimensions = Readonly<Partial<Record<DimensionName, string>>>;

export interface MetricDatum {
  readonly name: MetricName;
  readonly value: number;
  /** @default 'Count' */
  readonly unit?: MetricUnit;
}

/**
 * The metrics port. Services take one (bound to their Stage and Service) and never know whether
 * it writes EMF to stdout or records in memory for a test.
 */
export interface Metrics {
  /**
   * Emit data points that share dimensions as one record. `properties` are searchable in Logs
   * Insights but are not dimensions (task IDs are too many to be dimensions).
   */
  emit(data: readonly MetricDatum[], dimensions?: Dimensions, properties?: Readonly<Record<string, unknown>>): void;
  /** The same port with more dimensions bound (later values win). */
  with(dimensions: Dimensions): Metrics;
  /** Wait until everything emitted so far is written. */
  flush(): Promise<void>;
}

/** One recorded data point, as the in-memory implementation keeps it. */
export interface RecordedMetric {
  readonly name: MetricName;
  readonly value: number;
  readonly unit: MetricUnit;
  readonly dimensions: Dimensions;
  readonly properties: Readonly<Record<string, unknown>>;
}

/** Metrics kept in memory: the port for unit and end-to-end tests. */
export class InMemoryMetrics implements Metrics {
  constructor(
    readonly records: RecordedMetric[] = [],
    private readonly bound: Dimensions = {},
  ) {}

  emit(data: readonly MetricDatum[], dimensions: Dimensions = {}, properties: Readonly<Record<string, unknown>> = {}): void {
    for (const d of data) {
      this.records.push({ name: d.name, value: d.value, unit: d.unit ?? 'Count', dimensions: { ...this.bound, ...dimensions }, properties });
    }
  }

  with(dimensions: Dimensions): InMemoryMetrics {
    return new InMemoryMetrics(this.records, { ...this.bound, ...dimensions });
  }

  async flush(): Promise<void> {}

  /** Records of one metric whose dimensions include `where`. */
  find(name: MetricName, where: Dimensions = {}): RecordedMetric[] {
    return this.records.filter(
      (r) => r.name === name && Object.entries(where).every(([k, v]) => r.dimensions[k as DimensionName] === v),
    );
  }

  sum(name: MetricName, where: Dimensions = {}): number {
    return this.find(name, where).reduce((total, r) => total + r.value, 0);
  }
}

/** Metrics that go nowhere: the default where a caller injects none. */
export const noopMetrics: Metrics = {
  emit: () => undefined,
  with: () => noopMetrics,
  flush: async () => undefined,
};

export interface EmfMetricsOptions {
  /** Bound to every record; normally Stage and Service. */
  readonly dimensions: Dimensions;
  /** Where EMF lines go. ECS's awslogs driver ships stdout to CloudWatch Logs, which extracts the metrics. @default process.stdout.write */
  readonly write?: (line: string) => void;
  /** @default 'OpenClaw' */
  readonly namespace?: string;
}

/**
 * Every record carries two dimension sets: all bound dimensions, and the Stage/Service rollup, so
 * an alarm can watch a service without knowing which prompt version or model is live.
 */
const ROLLUP: readonly DimensionName[] = [DIMENSIONS.stage, DIMENSIONS.service];
/**
 * Dimensions worth a rollup of their own ([Stage, Service, X]): a dashboard plots one line per
 * finish reason or lane without knowing every prompt version and model that emitted it, and the
 * canary alarm compares [Stage, Service, AgentVersion] stable against candidate.
 */
const BREAKDOWNS: readonly DimensionName[] = [DIMENSIONS.finishReason, DIMENSIONS.lane, DIMENSIONS.agentVersion];

/**
 * What aws-embedded-metrics resolves before each flush, typed from its public `MetricsLogger`
 * constructor (the package exports no environment type; its deep paths are not its API).
 */
type EmfEnvironment = Awaited<ReturnType<ConstructorParameters<typeof MetricsLogger>[0]>>;

/** A Console whose every line goes to the injected writer, synchronously. */
function lineConsole(write: (line: string) => void): Console {
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      write(chunk.toString());
      done();
    },
  });
  return new Console({ stdout: stream, stderr: stream });
}

/**
 * An environment that always writes EMF lines through the library's public `LocalSink` (one JSON
 * line per record, no decoration). The library's own ECS environment sends to a CloudWatch agent
 * over TCP, which these tasks do not run; awslogs ships stdout and CloudWatch extracts the metrics.
 */
function lineEnvironment(write: ((line: string) => void) | undefined): EmfEnvironment {
  const sink = new LocalSink();
  // LocalSink writes each serialised record with `console.log`; its console is a public field.
  if (write !== undefined) Object.assign(sink, { console: lineConsole(write) });
  return {
    probe: async () => true,
    getName: () => 'openclaw',
    getType: () => 'ECS',
    getLogGroupName: () => '',
    configureContext: () => undefined,
    getSink: () => sink,
  };
}

/** CloudWatch Embedded Metric Format through aws-embedded-metrics, one JSON line per record. */
export class EmfMetrics implements Metrics {
  private readonly environment: EmfEnvironment;
  private pending: Promise<void>[] = [];

  constructor(
    private readonly options: EmfMetricsOptions,
    environment?: EmfEnvironment,
  ) {
    this.environment = environment ?? lineEnvironment(options.write);
  }

  emit(data: readonly MetricDatum[], dimensions: Dimensions = {}, properties: Readonly<Record<string, unknown>> = {}): void {
    if (data.length === 0) return;
    const all = definedDimensions({ ...this.options.dimensions, ...dimensions });
    const pick = (names: readonly string[]) => Object.fromEntries(Object.entries(all).filter(([k]) => names.includes(k)));
    const rollup = pick(ROLLUP);
    const breakdowns = BREAKDOWNS.filter((d) => all[d] !== undefined).map((d) => pick([...ROLLUP, d]));
    const smaller = [rollup, ...breakdowns].filter((set) => Object.keys(set).length > 0 && Object.keys(set).length < Object.keys(all).length);
    const sets = [all, ...smaller.filter((set, i) => smaller.findIndex((other) => sameKeys(other, set)) === i)];
    const logger = new MetricsLogger(async () => this.environment);
    logger.setNamespace(this.options.namespace ?? METRIC_NAMESPACE);
    logger.setDimensions(sets, false);
    for (const d of data) logger.putMetric(d.name, d.value, d.unit ?? 'Count');
    for (const [k, v] of Object.entries(properties)) logger.setProperty(k, v);
    const done = logger.flush().catch(() => undefined);
    this.pending.push(done);
    void done.then(() => {
      this.pending = this.pending.filter((p) => p !== done);
    });
  }

  with(dimensions: Dimensions): EmfMetrics {
    return new EmfMetrics({ ...this.options, dimensions: { ...this.options.dimensions, ...dimensions } }, this.environment);
  }

  async flush(): Promise<void> {
    await Promise.all(this.pending);
  }
}

function definedDimensions(dimensions: Dimensions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(dimensions)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

function sameKeys(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b);
}
