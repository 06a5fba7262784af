import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '../../..');

/** Run the CLI as `npm run trace` does (tsx), and report its exit code and output. */
function runCli(args: string[], traceDir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(root, 'node_modules/.bin/tsx'), [join(root, 'tools/local/trace-cli.ts'), ...args], { env: { ...process.env, TRACE_DIR: traceDir } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr });
    });
  });
}

describe('npm run trace', () => {
  const empty = mkdtempSync(join(tmpdir(), 'no-traces-'));

  it('GIVEN no task ID THEN it prints usage and exits 2', async () => {
    const out = await runCli([], empty);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('Usage: npm run trace -- <taskId>');
  });

  it('GIVEN a task with no stored spans THEN it says where it looked and how to get spans, exit 1', async () => {
    const out = await runCli(['task-unknown'], empty);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`No spans for task task-unknown in ${empty}`);
    expect(out.stderr).toContain('npm start');
  });
});
