import { z } from 'zod';
import { OpenClawError } from '../shared/errors';
import { describeIssues } from '../shared/zod-issues';
import { truncateOutput } from './step-size';

/** What the system guarantees a tool: a stable key per call and a signal that fires when the lease is lost. */
export interface ToolContext {
  readonly taskId: string;
  /** `taskId/toolUseId`: the same on every retry of this call, so a keyed service can deduplicate. */
  readonly idempotencyKey: string;
  /** The lease fence the call runs under; side-effecting services may reject lower fences. */
  readonly fence: number;
  readonly signal: AbortSignal;
}

export interface ToolResult {
  readonly content: string;
  readonly isError?: boolean;
}

/**
 * How much a tool may change the world, which decides how the worker runs it:
 * - `read_only`: safe to run again (a resumed task may repeat an interrupted call);
 * - `side_effecting`: announced by a fenced intent before it runs, never run twice for one key;
 * - `requires_approval`: side-effecting and dangerous enough that a person must approve each call.
 */
export const TOOL_RISKS = ['read_only', 'side_effecting', 'requires_approval'] as const;
export type ToolRisk = (typeof TOOL_RISKS)[number];

/**
 * What `reconcile` found out about a call whose outcome is unknown (an intent was recorded, the
 * worker died before the result was). `performed: false` is a positive statement from the
 * downstream system that the call never happened, so running it now cannot duplicate it.
 */
export type ReconcileOutcome = { readonly performed: true; readonly result: ToolResult } | { readonly performed: false };

/**
 * The idempotency contract of a side-effecting tool. Every call receives `ctx.idempotencyKey`
 * (`taskId/toolUseId`) and `ctx.fence`; the contract says what happens when a worker died between
 * the call's intent and its result:
 * - `reconcile`: the tool asks the downstream system, by key, whether the call took effect;
 * - `outcome_unknown`: the tool cannot tell, so the model is told the outcome is unknown and the
 *   call is never re-run.
 */
export type ToolIdempotency =
  | {
      readonly onInterrupted: 'reconcile';
      reconcile(idempotencyKey: string, ctx: ToolContext): Promise<ReconcileOutcome>;
    }
  | { readonly onInterrupted: 'outcome_unknown' };

interface ToolBase<I> {
  /** What the model calls it: `^[a-zA-Z0-9_-]{1,64}$`, unique in the registry. */
  readonly name: string;
  /** What the model reads to decide when to call it: what it does, and what it changes. */
  readonly description: string;
  /**
   * The input, as a zod schema: exported to JSON Schema for the model (`z.toJSONSchema`) and
   * checked before `run`, which only ever sees valid input. Must describe a JSON object.
   */
  readonly input: z.ZodType<I>;
  run(input: I, ctx: ToolContext): Promise<ToolResult>;
}

export interface ReadOnlyTool<I = unknown> extends ToolBase<I> {
  readonly risk: 'read_only';
}

export interface SideEffectingTool<I = unknown> extends ToolBase<I> {
  readonly risk: 'side_effecting' | 'requires_approval';
  readonly idempotency: ToolIdempotency;
}

/** One tool: a module exports one of these (see docs/tools.md). */
export type ToolDefinition<I = unknown> = ReadOnlyTool<I> | SideEffectingTool<I>;

/** Type the input of a tool from its schema; the registry stores it with the input erased. */
export function defineTool<I>(tool: ToolDefinition<I>): ToolDefinition {
  return tool as ToolDefinition;
}

export const hasSideEffects = (tool: ToolDefinition): tool is SideEffectingTool => tool.risk !== 'read_only';

/** The `tools` entry of a Messages API request. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly input_schema: Record<string, unknown>;
}

export class UnknownToolError extends OpenClawError {
  constructor(name: string, known: readonly string[]) {
    super('unknown_tool', `The model asked for tool "${name}", which is not registered (known: ${known.join(', ') || 'none'})`, { tool: name });
  }
}

/** A tool that cannot be registered; the message names the tool, what is wrong and the fix. */
export class ToolDefinitionError extends OpenClawError {
  constructor(tool: string, message: string) {
    super('invalid_tool', `Tool "${tool}" cannot be registered: ${message}`, { tool });
  }
}

export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** The JSON Schema the model is given for a tool's input (`$schema` dropped, as the API expects). */
export function inputJsonSchema(tool: ToolDefinition): Record<string, unknown> {
  let schema: Record<string, unknown>;
  try {
    schema = z.toJSONSchema(tool.input, { io: 'input', unrepresentable: 'throw' }) as Record<string, unknown>;
  } catch (err) {
    throw new ToolDefinitionError(tool.name, `its input schema has no JSON Schema form (${err instanceof Error ? err.message : String(err)}); use JSON types only (no dates, bigints, functions or transforms on input)`);
  }
  const { $schema: _drop, ...rest } = schema;
  if (rest['type'] !== 'object') {
    throw new ToolDefinitionError(tool.name, `its input schema must be a z.object(...) (the model passes a JSON object), got type ${JSON.stringify(rest['type'])}`);
  }
  return rest;
}

/** Check a definition once, at registration, so a bad tool stops the worker at start, not a task. */
function validateTool(tool: ToolDefinition): Record<string, unknown> {
  const name = String((tool as { name?: unknown }).name);
  if (!TOOL_NAME.test(name)) throw new ToolDefinitionError(name, 'its name must match ^[a-zA-Z0-9_-]{1,64}$ (the Messages API rule)');
  if (typeof tool.description !== 'string' || tool.description.trim().length === 0) {
    throw new ToolDefinitionError(name, 'it needs a description: the model reads it to decide when to call the tool');
  }
  if (!(TOOL_RISKS as readonly string[]).includes(tool.risk)) {
    throw new ToolDefinitionError(name, `risk ${JSON.stringify(tool.risk)} is not one of ${TOOL_RISKS.join(', ')}`);
  }
  if (hasSideEffects(tool)) {
    const contract = (tool as { idempotency?: ToolIdempotency }).idempotency;
    if (contract === undefined || (contract.onInterrupted !== 'reconcile' && contract.onInterrupted !== 'outcome_unknown')) {
      throw new ToolDefinitionError(name, `a ${tool.risk} tool must declare idempotency: { onInterrupted: 'reconcile', reconcile } or { onInterrupted: 'outcome_unknown' }`);
    }
    if (contract.onInterrupted === 'reconcile' && typeof contract.reconcile !== 'function') {
      throw new ToolDefinitionError(name, "idempotency.onInterrupted is 'reconcile' but no reconcile function is given");
    }
  }
  return inputJsonSchema(tool);
}

/**
 * The tools a worker offers, checked at registration (name, description, risk, idempotency
 * contract, a JSON-object input schema). `forTask` narrows them to what one task may use.
 */
export class ToolRegistry {
  private readonly tools = new Map<string, { tool: ToolDefinition; spec: ToolSpec }>();

  constructor(tools: readonly ToolDefinition[] = []) {
    for (const tool of tools) this.register(tool);
  }

  register(tool: ToolDefinition): void {
    const schema = validateTool(tool);
    if (this.tools.has(tool.name)) {
      throw new OpenClawError('duplicate_tool', `Tool "${tool.name}" is registered twice; tool names must be unique`, { tool: tool.name });
    }
    this.tools.set(tool.name, { tool, spec: { name: tool.name, description: tool.description, input_schema: schema } });
  }

  /**
   * Replace every tool whose name starts with `prefix` by `tools` (an MCP server's tools after it
   * re-listed them). All are checked before any is swapped, so a bad list changes nothing.
   */
  replaceGroup(prefix: string, tools: readonly ToolDefinition[]): void {
    const checked = tools.map((tool) => {
      if (!tool.name.startsWith(prefix)) throw new ToolDefinitionError(tool.name, `its name must start with "${prefix}"`);
      return { tool, spec: { name: tool.name, description: tool.description, input_schema: validateTool(tool) } };
    });
    for (const name of [...this.tools.keys()]) if (name.startsWith(prefix)) this.tools.delete(name);
    for (const entry of checked) {
      if (this.tools.has(entry.tool.name)) throw new OpenClawError('duplicate_tool', `Tool "${entry.tool.name}" is registered twice; tool names must be unique`, { tool: entry.tool.name });
      this.tools.set(entry.tool.name, entry);
    }
  }

  get(name: string): ToolDefinition {
    const entry = this.tools.get(name);
    if (entry === undefined) throw new UnknownToolError(name, this.names());
    return entry.tool;
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  names(): string[] {
    return [...this.tools.keys()];
  }

  all(): ToolDefinition[] {
    return [...this.tools.values()].map((e) => e.tool);
  }

  /** The `tools` array of a Messages API request, optionally limited to `allowed` names. */
  specs(allowed?: ReadonlySet<string>): ToolSpec[] {
    return [...this.tools.values()].filter((e) => allowed === undefined || allowed.has(e.tool.name)).map((e) => ({ ...e.spec, input_schema: { ...e.spec.input_schema } }));
  }

  /**
   * The tools one task may use: this registry narrowed by the task's allowlist (its API key's
   * entitlements, stored on the task row at intake). Undefined allows every registered tool.
   */
  forTask(allowed: readonly string[] | undefined): TaskTools {
    return new TaskTools(this, allowed === undefined ? undefined : new Set(allowed));
  }

  /**
   * Validate the raw input against the tool's schema, run it and cap its output at
   * `maxOutputBytes`. Invalid input is an error result (the tool never sees it); errors the tool
   * throws propagate, so the caller decides between an error result and a fence/abort.
   */
  async execute(tool: ToolDefinition, rawInput: unknown, ctx: ToolContext, maxOutputBytes: number): Promise<ToolResult> {
    const parsed = tool.input.safeParse(rawInput);
    if (!parsed.success) return { content: truncateOutput(`invalid input for ${tool.name}: ${describeIssues(parsed.error)}`, maxOutputBytes), isError: true };
    const out = await tool.run(parsed.data, ctx);
    return { content: truncateOutput(out.content, maxOutputBytes), isError: out.isError === true };
  }
}

/** A refusal the model sees as an error tool result; the tool is not run. */
export interface ToolRefusal {
  readonly refused: 'unknown_tool' | 'not_allowed';
  readonly message: string;
}

/**
 * The tool policy for one task. A tool outside the allowlist is never offered to the model, and a
 * call to it anyway (a model that guesses names, or a conversation resumed after the policy
 * changed) is refused without running it.
 */
export class TaskTools {
  constructor(
    readonly registry: ToolRegistry,
    private readonly allowed: ReadonlySet<string> | undefined,
  ) {}

  /** The `tools` array of this task's Messages API requests. */
  specs(): ToolSpec[] {
    return this.registry.specs(this.allowed);
  }

  /** The tool to run for a call named `name`, or why it may not run. */
  resolve(name: string): { readonly tool: ToolDefinition } | ToolRefusal {
    if (!this.registry.has(name)) return { refused: 'unknown_tool', message: `unknown tool "${name}"` };
    if (this.allowed !== undefined && !this.allowed.has(name)) {
      return { refused: 'not_allowed', message: `tool "${name}" is not allowed for this task (its API key may use: ${[...this.allowed].join(', ') || 'no tools'}); it was not run` };
    }
    return { tool: this.registry.get(name) };
  }
}
