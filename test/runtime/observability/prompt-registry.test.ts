import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PromptRegistry, UnknownPromptError, promptVersion } from '../../../runtime/src/shared/prompt-registry';
import { ConfigError } from '../../../runtime/src/shared/errors';

const dirWith = (files: Record<string, string>): string => {
  const dir = mkdtempSync(join(tmpdir(), 'prompts-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
};

describe('prompt registry', () => {
  it('GIVEN the same files in any order WHEN hashed THEN the version is the same; any edit changes it', () => {
    const a = promptVersion({ system: 'You are helpful.', tools: 'Use tools.' });
    expect(a).toMatch(/^p-[0-9a-f]{12}$/);
    expect(promptVersion({ tools: 'Use tools.', system: 'You are helpful.' })).toBe(a);
    expect(promptVersion({ system: 'You are helpful!', tools: 'Use tools.' })).not.toBe(a);
    // Moving text from one file to another is a change too.
    expect(promptVersion({ system: 'You are helpful.Use', tools: ' tools.' })).not.toBe(a);
  });

  it('GIVEN a prompts directory WHEN loaded THEN every <name>.md is a prompt, README and other files are not', () => {
    const dir = dirWith({ 'system.md': 'sys', 'README.md': 'docs', 'notes.txt': 'x' });
    const registry = PromptRegistry.fromDirectory(dir);
    expect(registry.names).toEqual(['system']);
    expect(registry.get('system')).toBe('sys');
    expect(registry.version).toBe(promptVersion({ system: 'sys' }));
  });

  it('GIVEN the repository prompts/ WHEN loaded THEN it has a system prompt', () => {
    const registry = PromptRegistry.fromDirectory(join(__dirname, '../../../prompts'));
    expect(registry.get('system').length).toBeGreaterThan(20);
  });

  it('GIVEN a missing or empty directory THEN a ConfigError names PROMPTS_DIR', () => {
    expect(() => PromptRegistry.fromDirectory('/nonexistent/prompts')).toThrow(ConfigError);
    expect(() => PromptRegistry.fromDirectory('/nonexistent/prompts')).toThrow(/PROMPTS_DIR/);
    expect(() => PromptRegistry.fromDirectory(dirWith({ 'README.md': 'x' }))).toThrow(/no <name>\.md files/);
  });

  it('GIVEN candidate directories THEN the first that exists is used; none existing names them all', () => {
    const dir = dirWith({ 'system.md': 'from second' });
    expect(PromptRegistry.fromFirstDirectory(['/nonexistent/a', dir]).get('system')).toBe('from second');
    expect(() => PromptRegistry.fromFirstDirectory(['/nonexistent/a', '/nonexistent/b'])).toThrow('No prompt directory found (looked in /nonexistent/a, /nonexistent/b); set PROMPTS_DIR');
  });

  it('GIVEN an unknown prompt name THEN the error lists what exists and the version', () => {
    const registry = new PromptRegistry({ system: 's' });
    expect(() => registry.get('planner')).toThrow(UnknownPromptError);
    expect(() => registry.get('planner')).toThrow(`Prompt "planner" is not in prompt set ${registry.version} (has: system)`);
  });
});
