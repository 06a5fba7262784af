import { trace, type Tracer } from '@opentelemetry/api';
import { PutCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { cancellationCodes, conditionHeld } from './dynamo-conditions';
import { GroupCommit, outcomeOf, type ItemOutcome } from './group-commit';
import { TRACER } from './spans';

/**
 * TransactWriteItems takes at most 100 items and 4 MB in all. Half the item limit: on the intake
 * bench 50 gave the lowest accept tail of 25, 50 and 100 (bench/README.md); the byte cap leaves
 * room under 4 MB for the request's own overhead.
 */
export const ROW_BATCH_MAX_ITEMS = 50;
export const ROW_BATCH_MAX_BYTES = 3_500_000;

export interface TaskRowInsertsOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /**
   * Row writes in flight at once. Under load, the rows that arrive while these are out are written
   * together in the next one; a lone row is written at once.
   * @default 4
   */
  readonly maxInFlight?: number;
  /** Each batch write is a span of this tracer (child of the first request, linked to all). @default trace.getTracer(TRACER.intake) */
  readonly tracer?: Tracer;
  /** @default ROW_BATCH_MAX_ITEMS (50) */
  readonly maxItems?: number;
}

interface Row {
  readonly item: Record<string, unknown>;
}

/** A new row's condition: no item with its key yet (a tombstone or someone else's task counts). */
const NEW_ROW = 'attribute_not_exists(pk)';

/** Write one new row; false if an item with its key exists. The single-row path of TaskStore and of a batch of one. */
export function insertRow(client: DynamoDBDocumentClient, tableName: string, item: Record<string, unknown>, signal?: AbortSignal): Promise<boolean> {
  return conditionHeld(() => client.send(new PutCommand({ TableName: tableName, Item: item, ConditionExpression: NEW_ROW }), ...(signal !== undefined ? [{ abortSignal: signal }] : [])));
}

/**
 * New task rows, group-committed: rows submitted while earlier writes are in flight go out as one
 * TransactWriteItems of conditional puts (`attribute_not_exists(pk)`, as a single insert), so each
 * row keeps its own answer: written, or false when a row with its key exists.
 *
 * A transaction is all or nothing, so a cancelled one is taken apart: the rows its reasons name as
 * `ConditionalCheckFailed` exist (false); every other row was not written and is written on its
 * own. On DynamoDB a transactional write costs two write units per KB instead of one, which is paid
 * only when writes batch (a lone row is a plain PutItem); in return the intake makes one request
 * per batch instead of one per task.
 */
export class TaskRowInserts {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly batches: GroupCommit<Row, boolean>;

  constructor(options: TaskRowInsertsOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.batches = new GroupCommit<Row, boolean>({
      maxItems: options.maxItems ?? ROW_BATCH_MAX_ITEMS,
      maxBytes: ROW_BATCH_MAX_BYTES,
      maxInFlight: options.maxInFlight ?? 4,
      span: { tracer: options.tracer ?? trace.getTracer(TRACER.intake), name: 'group_commit task_rows' },
      write: (rows, signal) => this.write(rows, signal),
    });
  }

  /** Write a new row; false if a row with its key already exists. */
  insert(item: Record<string, unknown>, sizeBytes: number, signal?: AbortSignal): Promise<boolean> {
    return this.batches.submit({ item }, { sizeBytes, ...(signal !== undefined ? { signal } : {}) });
  }

  private putOne(row: Row, signal: AbortSignal | undefined): Promise<boolean> {
    return insertRow(this.client, this.tableName, row.item, signal);
  }

  private async write(rows: readonly Row[], signal: AbortSignal | undefined): Promise<readonly ItemOutcome<boolean>[]> {
    if (rows.length === 1) return [await outcomeOf(this.putOne(rows[0] as Row, signal))];
    // A transaction may not touch one item twice: a repeated key waits for the transaction and is
    // then written on its own (and finds the row, or writes it if the transaction failed).
    const seen = new Set<string>();
    const first: number[] = [];
    const repeats: number[] = [];
    rows.forEach((row, i) => {
      const key = `${String(row.item.pk)}\u0000${String(row.item.sk)}`;
      (seen.has(key) ? repeats : first).push(i);
      seen.add(key);
    });
    const outcomes: ItemOutcome<boolean>[] = new Array<ItemOutcome<boolean>>(rows.length);
    if (first.length === 1) {
      outcomes[first[0] as number] = await outcomeOf(this.putOne(rows[first[0] as number] as Row, signal));
    } else {
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: first.map((i) => ({ Put: { TableName: this.tableName, Item: (rows[i] as Row).item, ConditionExpression: NEW_ROW } })),
          }),
          ...(signal !== undefined ? [{ abortSignal: signal }] : []),
        );
        for (const i of first) outcomes[i] = { ok: true, value: true };
      } catch (err) {
        const codes = cancellationCodes(err);
        if (codes.length === 0) throw err; // not a cancellation: nothing is known to be written, every row fails
        // Cancelled: nothing was written. A row whose own condition failed exists; the others go alone.
        await Promise.all(
          first.map(async (i, at) => {
            outcomes[i] = codes[at] === 'ConditionalCheckFailed' ? { ok: true, value: false } : await outcomeOf(this.putOne(rows[i] as Row, signal));
          }),
        );
      }
    }
    await Promise.all(
      repeats.map(async (i) => {
        outcomes[i] = await outcomeOf(this.putOne(rows[i] as Row, signal));
      }),
    );
    return outcomes;
  }
}
