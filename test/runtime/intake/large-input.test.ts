import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { taskAcceptedSchema, taskViewSchema } from '../../../runtime/src/intake/task-view';
import { META_SK, taskPk } from '../../../runtime/src/shared/task-model';
import { DYNAMODB_ITEM_LIMIT_BYTES, MAX_SUBMITTED_ROW_BYTES, MAX_TASK_BODY_BYTES, OUTCOME_RESERVE_BYTES, dynamoItemSize } from '../../../runtime/src/shared/task-size';
import { terminalUpdate } from '../../../runtime/src/shared/terminal-update';
import { TASK_TTL_ATTRIBUTE } from '../../../runtime/src/shared/task-retention';
import { drainTaskIds, startIntake, type IntakeHarness } from './harness';

/** A structured-input body of exactly `bytes` bytes (UTF-8), padded in one data string. */
function structuredBody(bytes: number): string {
  const shell = (pad: string) => JSON.stringify({ input: { instructions: 'Summarise the records', data: { records: pad } } });
  const body = shell('x'.repeat(bytes - Buffer.byteLength(shell(''))));
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

const errorOf = async (res: Response) => ((await res.json()) as { error: { type: string; message: string } }).error;

/**
 * Against DynamoDB Local, which enforces the 400 KB item limit like DynamoDB: every body the API
 * accepts is stored, the largest one still leaves room for the worker's outcome, and anything
 * larger is a 413 that names the limit, never a 5xx.
 */
describe('large inputs are stored once and fit their row', () => {
  let h: IntakeHarness;
  beforeAll(async () => {
    h = await startIntake();
  });
  afterAll(async () => {
    await h.close();
  });

  it('GIVEN a 220 KB structured input THEN 202, the row holds the input once (no stored prompt) and reads back rendered', async () => {
    const data = { rows: Array.from({ length: 2000 }, (_, i) => ({ id: `row-${i}`, note: 'n'.repeat(90) })) };
    const body = JSON.stringify({ input: { instructions: 'Sum the rows', data } });
    expect(Buffer.byteLength(body)).toBeGreaterThan(220 * 1000);
    const res = await h.call('/v1/tasks', { body });
    expect(res.status).toBe(202);
    const { taskId } = taskAcceptedSchema.parse(await res.json());
    const raw = await h.aws.dynamo.send(new GetCommand({ TableName: h.aws.resources.tasksTable, Key: { pk: taskPk(taskId), sk: META_SK } }));
    expect(raw.Item).toBeDefined();
    expect(raw.Item).not.toHaveProperty('prompt');
    expect(raw.Item).not.toHaveProperty('input');
    expect(raw.Item?.['inputJson']).toBe(JSON.stringify({ instructions: 'Sum the rows', data }));
    const view = taskViewSchema.parse(await (await h.call(`/v1/tasks/${taskId}`)).json());
    expect(view.prompt).toBe(`Sum the rows\n\nInput (JSON):\n${JSON.stringify(data)}`);
    expect(view.input).toEqual({ instructions: 'Sum the rows', data });
  });

  it('GIVEN data with a number beyond 2^53 and keys in a chosen order THEN 202 and the agent sees the data as sent', async () => {
    const body = '{"input":{"instructions":"Check","data":{"zeta":1,"alpha":12345678901234567890,"mid":{"b":2,"a":1}}}}';
    const res = await h.call('/v1/tasks', { body });
    expect(res.status).toBe(202);
    const { taskId } = taskAcceptedSchema.parse(await res.json());
    const task = await h.store.get(taskId);
    expect(task?.prompt).toBe('Check\n\nInput (JSON):\n{"zeta":1,"alpha":12345678901234567000,"mid":{"b":2,"a":1}}');
  });

  it('GIVEN the largest valid body THEN 202 and the worker can still finish it with a result filling the outcome reserve', async () => {
    const res = await h.call('/v1/tasks', { body: structuredBody(MAX_TASK_BODY_BYTES) });
    expect(res.status).toBe(202);
    const { taskId } = taskAcceptedSchema.parse(await res.json());
    // What the worker writes when the task ends: a result as large as the reserve allows, less the other outcome fields.
    const update = terminalUpdate('SUCCEEDED', { result: 'r'.repeat(OUTCOME_RESERVE_BYTES - 2048), usage: { inputTokens: 1, outputTokens: 1, llmCalls: 1, toolCalls: 0 }, steps: 1, promptVersion: 'p-0123456789ab' }, new Date().toISOString(), 1);
    await h.aws.dynamo.send(new UpdateCommand({ TableName: h.aws.resources.tasksTable, Key: { pk: taskPk(taskId), sk: META_SK }, ...update }));
    const view = taskViewSchema.parse(await (await h.call(`/v1/tasks/${taskId}`)).json());
    expect(view.status).toBe('SUCCEEDED');
  });

  it('GIVEN one byte more than the largest valid body THEN 413 naming the limit', async () => {
    const res = await h.call('/v1/tasks', { body: structuredBody(MAX_TASK_BODY_BYTES + 1) });
    expect(res.status).toBe(413);
    const error = await errorOf(res);
    expect(error.type).toBe('request_too_large');
    expect(error.message).toContain(`the limit is ${MAX_TASK_BODY_BYTES}`);
  });

  it('GIVEN a body under the limit whose stored form is larger (numbers in exponent form) THEN 413 naming the stored limit, not 503', async () => {
    const body = `{"input":{"instructions":"Count","data":{"big":[${Array.from({ length: 20_000 }, () => '1e20').join(',')}]}}}`;
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_TASK_BODY_BYTES);
    const res = await h.call('/v1/tasks', { body });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).message).toMatch(new RegExp(`takes \\d+ bytes as stored; the limit is ${MAX_SUBMITTED_ROW_BYTES} bytes`));
  });

  it('GIVEN items of every shape sized at the limit by dynamoItemSize THEN DynamoDB Local stores them (the estimate is never below the real size)', async () => {
    const table = h.aws.resources.tasksTable;
    const shapes: Record<string, (n: number) => unknown> = {
      text: (n) => 's'.repeat(n),
      unicode: (n) => 'é'.repeat(Math.floor(n / 2)),
      map: (n) => Object.fromEntries(Array.from({ length: Math.floor(n / 40) }, (_, i) => [`k${i}`, 'v'.repeat(30)])),
      numbers: (n) => Array.from({ length: Math.floor(n / 4) }, (_, i) => i * 1.5),
      negative: (n) => Array.from({ length: Math.floor(n / 5) }, (_, i) => -i * 0.000123),
      integers: (n) => Array.from({ length: Math.floor(n / 6) }, (_, i) => i * 7919),
      nested: (n) => Array.from({ length: Math.floor(n / 60) }, (_, i) => ({ a: [i, true, null], b: { c: 'x'.repeat(20) } })),
    };
    const stored: Record<string, string> = {};
    for (const [shape, make] of Object.entries(shapes)) {
      const base = { pk: `SIZE#${shape}`, sk: META_SK, [TASK_TTL_ATTRIBUTE]: 1 };
      // Each shape sized to a third of the limit; the pad string brings the item to exactly the limit.
      const value = make(Math.floor(DYNAMODB_ITEM_LIMIT_BYTES / 3));
      const pad = (n: number) => ({ ...base, value, pad: 'p'.repeat(n) });
      const fill = DYNAMODB_ITEM_LIMIT_BYTES - dynamoItemSize(pad(0));
      expect(fill).toBeGreaterThanOrEqual(0);
      const item = pad(fill);
      expect(dynamoItemSize(item)).toBe(DYNAMODB_ITEM_LIMIT_BYTES);
      stored[shape] = await h.aws.dynamo.send(new PutCommand({ TableName: table, Item: item })).then(
        () => 'stored',
        (err: unknown) => String(err),
      );
    }
    expect(stored).toEqual(Object.fromEntries(Object.keys(shapes).map((k) => [k, 'stored'])));
    // And the limit is real: a plain string item one byte over it is refused.
    const over = { pk: 'SIZE#over', sk: META_SK, pad: '' };
    over.pad = 'p'.repeat(DYNAMODB_ITEM_LIMIT_BYTES - dynamoItemSize(over) + 1);
    await expect(h.aws.dynamo.send(new PutCommand({ TableName: table, Item: over }))).rejects.toThrow(/size/i);
  });

  afterAll(async () => {
    await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal);
  });
});
