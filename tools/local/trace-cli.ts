import { resolve } from 'node:path';
import { DEFAULT_TRACE_DIR, readStoredSpans, spansForTask } from '../../runtime/src/shared/span-store';
import { renderTree } from '../../runtime/src/shared/trace-tree';

const USAGE = 'Usage: npm run trace -- <taskId>   (reads spans that `npm start` stored under .local/traces; TRACE_DIR overrides)';

function main(): number {
  const taskId = process.argv[2];
  if (taskId === undefined || taskId === '' || taskId.startsWith('-')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const dir = resolve(process.env['TRACE_DIR'] ?? DEFAULT_TRACE_DIR);
  const spans = spansForTask(readStoredSpans(dir), taskId);
  if (spans.length === 0) {
    process.stderr.write(`No spans for task ${taskId} in ${dir}. Run the task with \`npm start\` first (spans are written as they end).\n`);
    return 1;
  }
  process.stdout.write(`${renderTree(spans, taskId)}\n`);
  return 0;
}

process.exitCode = main();
