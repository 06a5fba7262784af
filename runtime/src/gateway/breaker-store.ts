import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoTableOptions } from '../shared/dynamo-store';
import { conditionHeld, ifConditionFails } from '../shared/dynamo-conditions';

/** One upstream model's breaker as all replicas see it. No `openUntil` means closed. */
export interface BreakerRecord {
  /** When the current run of errors (with no success in between) began. */
  readonly streakStart?: number;
  readonly failures: number;
  readonly lastFailure?: number;
  /** Open until this instant; after it, half-open: one probe may go. */
  readonly openUntil?: number;
  /** A replica holds the probe until this instant. */
  readonly probeUntil?: number;
}

/** The breaker's shared state; every transition is a conditional write, so replicas agree on it. */
export interface BreakerStore {
  read(model: string): Promise<BreakerRecord>;
  /** Count an error; a streak whose last error is older than `staleBefore` starts over. */
  recordFailure(model: string, now: number, staleBefore: number): Promise<BreakerRecord>;
  /** Open until `openUntil`; with `onlyIfClosed`, false when another replica opened it first. */
  open(model: string, openUntil: number, onlyIfClosed: boolean): Promise<boolean>;
  /** Take the half-open probe; false when the circuit is still open or another replica has it. */
  claimProbe(model: string, now: number, leaseUntil: number): Promise<boolean>;
  /** Give an unused probe back. */
  releaseProbe(model: string): Promise<void>;
  /** Close and forget the streak. */
  reset(model: string): Promise<void>;
}

type Item = Partial<BreakerRecord> & { pk?: string };

function toRecord(item: Item | undefined): BreakerRecord {
  if (item === undefined) return { failures: 0 };
  const { pk: _pk, ...rest } = item;
  return { ...rest, failures: item.failures ?? 0 };
}

/** Breaker items in the gateway table: `pk = BREAKER#<model>`, `sk = STATE`. */
export class DynamoBreakerStore implements BreakerStore {
  private readonly dynamo: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(options: DynamoTableOptions) {
    this.dynamo = options.client;
    this.tableName = options.tableName;
  }

  private key(model: string) {
    return { pk: `BREAKER#${model}`, sk: 'STATE' };
  }

  private async update(model: string, input: { UpdateExpression: string; ConditionExpression?: string; ExpressionAttributeValues?: Record<string, unknown> }): Promise<Item | undefined> {
    const out = await this.dynamo.send(new UpdateCommand({ TableName: this.tableName, Key: this.key(model), ReturnValues: 'ALL_NEW', ...input }));
    return out.Attributes as Item | undefined;
  }

  async read(model: string): Promise<BreakerRecord> {
    const out = await this.dynamo.send(new GetCommand({ TableName: this.tableName, Key: this.key(model), ConsistentRead: true }));
    return toRecord(out.Item as Item | undefined);
  }

  async recordFailure(model: string, now: number, staleBefore: number): Promise<BreakerRecord> {
    const counted = await ifConditionFails(
      () =>
        this.update(model, {
          UpdateExpression: 'SET streakStart = if_not_exists(streakStart, :now), failures = if_not_exists(failures, :zero) + :one, lastFailure = :now',
          ConditionExpression: 'attribute_not_exists(lastFailure) OR lastFailure >= :stale',
          ExpressionAttributeValues: { ':now': now, ':zero': 0, ':one': 1, ':stale': staleBefore },
        }),
      () => undefined,
    );
    if (counted !== undefined) return toRecord(counted);
    // The last error is stale: this one starts a new streak.
    return toRecord(
      await this.update(model, { UpdateExpression: 'SET streakStart = :now, failures = :one, lastFailure = :now', ExpressionAttributeValues: { ':now': now, ':one': 1 } }),
    );
  }

  open(model: string, openUntil: number, onlyIfClosed: boolean): Promise<boolean> {
    return conditionHeld(() =>
      this.update(model, {
        UpdateExpression: 'SET openUntil = :until REMOVE probeUntil',
        ...(onlyIfClosed ? { ConditionExpression: 'attribute_not_exists(openUntil)' } : {}),
        ExpressionAttributeValues: { ':until': openUntil },
      }),
    );
  }

  claimProbe(model: string, now: number, leaseUntil: number): Promise<boolean> {
    return conditionHeld(() =>
      this.update(model, {
        UpdateExpression: 'SET probeUntil = :lease',
        ConditionExpression: 'openUntil <= :now AND (attribute_not_exists(probeUntil) OR probeUntil < :now)',
        ExpressionAttributeValues: { ':now': now, ':lease': leaseUntil },
      }),
    );
  }

  async releaseProbe(model: string): Promise<void> {
    await this.update(model, { UpdateExpression: 'REMOVE probeUntil' });
  }

  async reset(model: string): Promise<void> {
    await this.update(model, { UpdateExpression: 'SET failures = :zero REMOVE streakStart, lastFailure, openUntil, probeUntil', ExpressionAttributeValues: { ':zero': 0 } });
  }
}

/** One process, no table: unit tests and a gateway without GATEWAY_TABLE. */
export class MemoryBreakerStore implements BreakerStore {
  private readonly records = new Map<string, BreakerRecord>();

  private get(model: string): BreakerRecord {
    return this.records.get(model) ?? { failures: 0 };
  }

  read(model: string): Promise<BreakerRecord> {
    return Promise.resolve(this.get(model));
  }

  recordFailure(model: string, now: number, staleBefore: number): Promise<BreakerRecord> {
    const r = this.get(model);
    const fresh = r.lastFailure === undefined || r.lastFailure >= staleBefore;
    const next: BreakerRecord = { ...r, streakStart: fresh ? (r.streakStart ?? now) : now, failures: fresh ? r.failures + 1 : 1, lastFailure: now };
    this.records.set(model, next);
    return Promise.resolve(next);
  }

  open(model: string, openUntil: number, onlyIfClosed: boolean): Promise<boolean> {
    const r = this.get(model);
    if (onlyIfClosed && r.openUntil !== undefined) return Promise.resolve(false);
    const { probeUntil: _p, ...rest } = r;
    this.records.set(model, { ...rest, openUntil });
    return Promise.resolve(true);
  }

  claimProbe(model: string, now: number, leaseUntil: number): Promise<boolean> {
    const r = this.get(model);
    if (r.openUntil === undefined || r.openUntil > now || (r.probeUntil !== undefined && r.probeUntil >= now)) return Promise.resolve(false);
    this.records.set(model, { ...r, probeUntil: leaseUntil });
    return Promise.resolve(true);
  }

  releaseProbe(model: string): Promise<void> {
    const { probeUntil: _p, ...rest } = this.get(model);
    this.records.set(model, rest);
    return Promise.resolve();
  }

  reset(model: string): Promise<void> {
    this.records.set(model, { failures: 0 });
    return Promise.resolve();
  }
}
