import { join } from 'node:path';
import { runFleetSimulation } from './spike-report';

// `npx tsx bench/sim/main.ts`: only the fleet simulation (npm run bench runs it with everything else).
const { table, goals, files } = runFleetSimulation({ outDir: join(__dirname, '..', 'results') });
process.stdout.write(`${goals}\n\n${table}\n\nwritten: ${files.join(', ')}\n`);
