import { OpenClawError } from '../shared/errors';

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
 * What `reconcile` found out about a call whose outcome is unknown (an intent was recorded, the
 * worker died before the result was). `performed: false` is a positive statement from the
 * downstream system that the call never happened, so running it now cannot duplicate it.
 */
export type ReconcileOutcome = { readonly performed: true; readonly result: ToolResult } | { readonly performed: false };

export interface ToolDefinition {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  /**
   * True when running the tool changes the world (sends, writes, pays). Such a tool is never run
   * twice for the same idempotency key by this system.
   */
  readonly sideEffects: boolean;
  run(input: unknown, ctx: ToolContext): Promise<ToolResult>;
  /**
   * Look up, by idempotency key, whether an interrupted call took effect. Without it, an
   * interrupted side-effecting call is reported to the model as "outcome unknown", never re-run.
   * @default undefined (no reconciliation)
   */
  reconcile?(idempotencyKey: string, ctx: ToolContext): Promise<ReconcileOutcome>;
}

export class UnknownToolError extends OpenClawError {
  constructor(name: string, known: readonly string[]) {
    super('unknown_tool', `The model asked for tool "${name}", which is not registered (known: ${known.join(', ') || 'none'})`, { tool: name });
  }
}

export class ToolRegistry {
  private readonly tools = new Map<string, ToolDefinition>();

  constructor(tools: readonly ToolDefinition[] = []) {
    for (const tool of tools) this.register(tool);
  }

  register(tool: ToolDefinition): void {
    if (this.tools.has(tool.name)) {
      throw new OpenClawError('duplicate_tool', `Tool "${tool.name}" is registered twice; tool names must be unique`, { tool: tool.name });
    }
    this.tools.set(tool.name, tool);
  }

  get(name: string): ToolDefinition {
    const tool = this.tools.get(name);
    if (tool === undefined) throw new UnknownToolError(name, [...this.tools.keys()]);
    return tool;
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  /** The `tools` array of a Messages API request. */
  specs(): { name: string; description: string; input_schema: Record<string, unknown> }[] {
    return [...this.tools.values()].map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: { ...t.inputSchema },
    }));
  }
}
