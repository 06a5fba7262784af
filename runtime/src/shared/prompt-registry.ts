import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, OpenClawError } from './errors';

/** Prompt files are Markdown; anything else in the directory (READMEs excepted) is ignored. */
const PROMPT_FILE = /^([a-z0-9][a-z0-9_-]*)\.md$/i;
const IGNORED = new Set(['readme']);

export class UnknownPromptError extends OpenClawError {
  constructor(name: string, known: readonly string[], version: string) {
    super('unknown_prompt', `Prompt "${name}" is not in prompt set ${version} (has: ${known.join(', ') || 'none'}); add prompts/${name}.md`, { name, version });
  }
}

/**
 * The prompts the agent runs with, versioned by content: the version is a hash of every file's
 * name and text, so any edit gives a new version and the same files always give the same one.
 * The version goes on the task row, on spans and as the PromptVersion metric dimension, which is
 * how "did the last prompt change hurt us?" gets answered.
 */
export class PromptRegistry {
  readonly version: string;
  private readonly prompts: ReadonlyMap<string, string>;

  constructor(files: Readonly<Record<string, string>>) {
    this.prompts = new Map(Object.entries(files));
    this.version = promptVersion(files);
  }

  /** Read every `<name>.md` in `dir` once, at start. */
  static fromDirectory(dir: string, variable = 'PROMPTS_DIR'): PromptRegistry {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      throw new ConfigError(`Prompt directory ${dir} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); set ${variable} to the directory holding system.md`, { dir, variable });
    }
    const files: Record<string, string> = {};
    for (const file of names) {
      const match = PROMPT_FILE.exec(file);
      const name = match?.[1];
      if (name === undefined || IGNORED.has(name.toLowerCase())) continue;
      files[name] = readFileSync(join(dir, file), 'utf8');
    }
    if (Object.keys(files).length === 0) {
      throw new ConfigError(`Prompt directory ${dir} holds no <name>.md files; add system.md or set ${variable}`, { dir, variable });
    }
    return new PromptRegistry(files);
  }

  /**
   * The first of `dirs` that exists: PROMPTS_DIR when set, else `./prompts` (a checkout) and then
   * `prompts/` next to the running bundle (the image ships them as dist/prompts).
   */
  static fromFirstDirectory(dirs: readonly string[], variable = 'PROMPTS_DIR'): PromptRegistry {
    return PromptRegistry.fromDirectory(firstPromptDirectory(dirs, variable), variable);
  }

  /**
   * One agent's prompts: `folder` under the prompts root (`.` is the root itself). Its version
   * hashes only that folder's files, so each agent's prompt changes show up on its own.
   */
  static forAgent(root: string, folder: string, agent: string): PromptRegistry {
    const dir = folder === '.' ? root : join(root, folder);
    if (!existsSync(dir)) {
      throw new ConfigError(`Agent "${agent}" has prompts folder "${folder}", but ${dir} does not exist; add it (with system.md) under the prompts root or fix the agent's prompts`, { agent, dir });
    }
    return PromptRegistry.fromDirectory(dir, `AGENTS (agent "${agent}", prompts "${folder}")`);
  }

  get names(): string[] {
    return [...this.prompts.keys()].sort();
  }

  has(name: string): boolean {
    return this.prompts.has(name);
  }

  get(name: string): string {
    const text = this.prompts.get(name);
    if (text === undefined) throw new UnknownPromptError(name, this.names, this.version);
    return text;
  }
}

/** The first of `dirs` that exists: the prompts root. */
export function firstPromptDirectory(dirs: readonly string[], variable = 'PROMPTS_DIR'): string {
  const found = dirs.find((dir) => existsSync(dir));
  if (found === undefined) {
    throw new ConfigError(`No prompt directory found (looked in ${dirs.join(', ')}); set ${variable} to the directory holding system.md`, { dirs, variable });
  }
  return found;
}

/** `p-` plus 12 hex digits of SHA-256 over the sorted (name, text) pairs: short enough for a dimension. */
export function promptVersion(files: Readonly<Record<string, string>>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) {
    // Length-prefixed so that moving text between files changes the hash.
    const text = files[name] ?? '';
    hash.update(`${name.length}:${name}${Buffer.byteLength(text)}:`).update(text);
  }
  return `p-${hash.digest('hex').slice(0, 12)}`;
}
