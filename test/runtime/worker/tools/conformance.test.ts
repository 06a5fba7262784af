/**
 * The conformance suite every registered built-in tool must pass (docs/tools.md). It iterates the
 * catalog, so a new tool is checked the moment it is added, and fails until the tool has a fixture.
 */
import Ajv from 'ajv';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { BUILTIN_TOOL_NAMES, type BuiltinToolName } from '../../../../runtime/src/shared/agent-tools';
import { CallbackUrlPolicy } from '../../../../runtime/src/shared/callback-url-policy';
import { FencedError } from '../../../../runtime/src/shared/errors';
import { listen, type RunningServer } from '../../../../runtime/src/shared/http';
import { silentLogger } from '../../../../runtime/src/shared/logger';
import { TOOL_NAME, ToolRegistry, hasSideEffects, type ToolContext } from '../../../../runtime/src/worker/tool-registry';
import { builtinTools, type BuiltinToolDeps } from '../../../../runtime/src/worker/tools/catalog';
import { NOTE_SK, notePk } from '../../../../runtime/src/worker/tools/record-note';
import { ANNOUNCEMENT_SK, announcementPk } from '../../../../runtime/src/worker/tools/publish-announcement';
import { createTestAws, type TestAws } from '../../../support/aws';

/** What the suite needs to exercise one tool. */
interface Fixture {
  /** Input the tool accepts and runs successfully. */
  readonly valid: unknown;
  /** Input its schema refuses (the tool must never see it). */
  readonly invalid: unknown;
  /** Side-effecting tools: how many times the effect took place downstream for an idempotency key. */
  readonly effects?: (key: string) => Promise<number>;
  /** Input that makes the tool produce more than 4 KiB, when it can. */
  readonly large?: unknown;
}

let aws: TestAws;
let deps: BuiltinToolDeps;
let web: RunningServer;

const FIXTURES: { readonly [N in BuiltinToolName]: Fixture } = {
  calculator: { valid: { a: 6, b: 7, op: 'mul' }, invalid: { a: '6', b: 7, op: 'pow' } },
  // A loopback site, reachable only because the test injects a policy that allows 127.0.0.1 over http.
  http_fetch: {
    get valid() {
      return { url: `${web.url}/page` };
    },
    invalid: { url: 42 },
    get large() {
      return { url: `${web.url}/large` };
    },
  },
  record_note: {
    valid: { text: 'conformance' },
    invalid: { text: '' },
    // The note is keyed by the idempotency key: however often the tool is invoked, one note exists.
    effects: async (key) => {
      const out = await aws.dynamo.send(new GetCommand({ TableName: deps.tableName, Key: { pk: notePk(key), sk: NOTE_SK }, ConsistentRead: true }));
      return out.Item?.['text'] === undefined ? 0 : 1;
    },
  },
  publish_announcement: {
    valid: { audience: 'all customers', text: 'maintenance tonight' },
    invalid: { audience: 'all customers' },
    // Keyed by the idempotency key: however often it is invoked, one announcement exists.
    effects: async (key) => {
      const out = await aws.dynamo.send(new GetCommand({ TableName: deps.tableName, Key: { pk: announcementPk(key), sk: ANNOUNCEMENT_SK }, ConsistentRead: true }));
      return out.Item?.['text'] === undefined ? 0 : 1;
    },
  },
};

const ctx = (key: string, fence = 5): ToolContext => ({ taskId: key.split('/')[0] as string, idempotencyKey: key, fence, signal: new AbortController().signal });
const newKey = () => `task-${randomUUID()}/toolu_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  aws = await createTestAws();
  web = await listen(async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(req.url === '/large' ? 'x'.repeat(10_000) : 'hello');
  }, 0, silentLogger, '127.0.0.1');
  deps = { dynamo: aws.dynamo, tableName: aws.resources.tasksTable, httpFetch: { policy: new CallbackUrlPolicy({ allowHttpHosts: ['127.0.0.1'] }) } };
});
afterAll(async () => {
  await web.close();
  aws.destroy();
});

describe('tool conformance: every built-in tool', () => {
  const registry = () => new ToolRegistry(builtinTools(BUILTIN_TOOL_NAMES, deps));

  it('GIVEN the catalog WHEN registered THEN every configured name has a tool of that name, and a fixture here', () => {
    expect(registry().names()).toEqual([...BUILTIN_TOOL_NAMES]);
    for (const name of BUILTIN_TOOL_NAMES) expect(FIXTURES[name]).toBeDefined();
  });

  describe.each([...BUILTIN_TOOL_NAMES])('%s', (name) => {
    const fixture = FIXTURES[name];

    it('offers the model a valid JSON Schema for an object that agrees with the zod schema', () => {
      const spec = registry().specs().find((s) => s.name === name);
      expect(spec?.name).toMatch(TOOL_NAME);
      expect(spec?.description.length).toBeGreaterThan(10);
      expect(spec?.input_schema['type']).toBe('object');
      const validate = new Ajv({ allErrors: true }).compile(spec?.input_schema ?? {});
      expect(validate(fixture.valid)).toBe(true);
      expect(validate(fixture.invalid)).toBe(false);
    });

    it('declares a risk, and an idempotency contract when it has side effects', () => {
      const tool = registry().get(name);
      expect(['read_only', 'side_effecting', 'requires_approval']).toContain(tool.risk);
      if (hasSideEffects(tool)) {
        expect(['reconcile', 'outcome_unknown']).toContain(tool.idempotency.onInterrupted);
        expect(fixture.effects).toBeDefined();
      }
    });

    it('runs valid input, and refuses invalid input as an error result without running', async () => {
      const r = registry();
      const tool = r.get(name);
      const good = await r.execute(tool, fixture.valid, ctx(newKey()), 65_536);
      expect(good.isError).toBe(false);
      const key = newKey();
      const bad = await r.execute(tool, fixture.invalid, ctx(key), 65_536);
      expect(bad).toMatchObject({ isError: true, content: expect.stringContaining(`invalid input for ${name}`) });
      if (fixture.effects !== undefined) expect(await fixture.effects(key)).toBe(0);
    });

    it('never returns more than the output limit', async () => {
      const r = registry();
      const limit = 256;
      const out = await r.execute(r.get(name), fixture.large ?? fixture.valid, ctx(newKey()), limit);
      expect(Buffer.byteLength(out.content, 'utf8')).toBeLessThanOrEqual(limit);
      if (fixture.large !== undefined) expect(out.content).toMatch(/\[truncated: output was \d+ bytes, limit 256\]$/);
    });

    it('honours the idempotency key and the fence when it has side effects', async () => {
      const tool = registry().get(name);
      if (!hasSideEffects(tool)) {
        expect(tool.risk).toBe('read_only');
        return;
      }
      const effects = fixture.effects as (key: string) => Promise<number>;
      const r = registry();
      const key = newKey();
      if (tool.idempotency.onInterrupted === 'reconcile') expect(await tool.idempotency.reconcile(key, ctx(key))).toEqual({ performed: false });
      await r.execute(tool, fixture.valid, ctx(key, 5), 65_536);
      // A retry with the same key (a resumed task whose first run recorded no result) does it no second time.
      await r.execute(tool, fixture.valid, ctx(key, 5), 65_536);
      expect(await effects(key)).toBe(1);
      if (tool.idempotency.onInterrupted === 'reconcile') expect(await tool.idempotency.reconcile(key, ctx(key))).toMatchObject({ performed: true });
      // A former owner (lower fence) is refused once a newer owner acted on the key.
      await expect(r.execute(tool, fixture.valid, ctx(key, 4), 65_536)).rejects.toBeInstanceOf(FencedError);
      expect(await effects(key)).toBe(1);
    });
  });
});
