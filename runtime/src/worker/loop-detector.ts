import { createHash } from 'node:crypto';
import type { StepRecord } from '../shared/task-model';
import type { LlmStepPayload, ToolStepPayload } from './conversation';

/**
 * When a task is looping. Both rules look at the task's tool calls in order, as recorded in its
 * checkpoints, so a task resumed on another worker keeps its count.
 */
export interface LoopThresholds {
  /** The same tool with the same input (by hash) this many times in a task is a loop. @default 3 */
  readonly sameCall: number;
  /** A cycle of 2..`maxCycleLength` calls repeated this many times in a row is a loop. @default 2 */
  readonly cycleRepeats: number;
  /** Longest cycle looked for. @default 4 */
  readonly maxCycleLength: number;
}

export const DEFAULT_LOOP_THRESHOLDS: LoopThresholds = { sameCall: 3, cycleRepeats: 2, maxCycleLength: 4 };

export type LoopKind = 'repeated_call' | 'cycle';

export interface LoopFinding {
  readonly kind: LoopKind;
  /** What the model (and the task's error) is told. */
  readonly message: string;
}

/** JSON with sorted keys, so equal inputs hash equally whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A call's identity: the tool and a hash of its input. */
export const callSignature = (name: string, input: unknown): string => `${name}#${createHash('sha256').update(canonical(input)).digest('hex').slice(0, 16)}`;

/** Every tool call the model asked for, in order, from the checkpoints. */
export function toolCallsOf(steps: readonly StepRecord[]): { readonly id: string; readonly name: string; readonly signature: string }[] {
  const calls: { id: string; name: string; signature: string }[] = [];
  for (const step of steps) {
    if (step.kind !== 'llm') continue;
    for (const block of (step.payload as unknown as LlmStepPayload).content) {
      if (block.type === 'tool_use') calls.push({ id: block.id, name: block.name, signature: callSignature(block.name, block.input) });
    }
  }
  return calls;
}

/** Tool steps already recorded as a loop warning: a second finding after one of these fails the task. */
export const loopWarnings = (steps: readonly StepRecord[]): number =>
  steps.filter((s) => s.kind === 'tool' && (s.payload as unknown as ToolStepPayload).loop !== undefined).length;

/** The smallest period of a block, so `A A` is not reported as a cycle (it is a repeated call). */
function isPrimitive(block: readonly string[]): boolean {
  for (let p = 1; p < block.length; p += 1) {
    if (block.length % p === 0 && block.every((s, i) => s === block[i % p])) return false;
  }
  return true;
}

/**
 * Whether the call `toolUseId` (the next one to run) closes a loop, judged from the calls up to and
 * including it. Pure, so it gives the same answer on every worker that replays the same log.
 */
export function detectLoop(steps: readonly StepRecord[], toolUseId: string, thresholds: LoopThresholds = DEFAULT_LOOP_THRESHOLDS): LoopFinding | undefined {
  const all = toolCallsOf(steps);
  const end = all.findIndex((c) => c.id === toolUseId);
  if (end < 0) return undefined;
  const calls = all.slice(0, end + 1).map((c) => c.signature);
  const last = all[end] as { name: string; signature: string };

  const same = calls.filter((s) => s === last.signature).length;
  if (same >= thresholds.sameCall) {
    return {
      kind: 'repeated_call',
      message: `loop detected: ${last.name} was called ${same} times with the same input in this task (limit ${thresholds.sameCall}); it was not run again. Use the earlier result or change approach`,
    };
  }
  for (let length = 2; length <= thresholds.maxCycleLength; length += 1) {
    const span = length * thresholds.cycleRepeats;
    if (calls.length < span) break;
    const tail = calls.slice(-span);
    const block = tail.slice(0, length);
    if (!isPrimitive(block) || !tail.every((s, i) => s === block[i % length])) continue;
    const names = all.slice(end + 1 - length, end + 1).map((c) => c.name);
    return {
      kind: 'cycle',
      message: `loop detected: the same ${length} calls (${names.join(' → ')}) with the same inputs repeated ${thresholds.cycleRepeats} times in a row; the last was not run. Use the earlier results or change approach`,
    };
  }
  return undefined;
}
