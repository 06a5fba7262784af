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
