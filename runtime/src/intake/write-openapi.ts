import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOpenApiDocument } from './openapi';

/** Regenerate the checked-in openapi.json after changing a schema: `npx tsx runtime/src/intake/write-openapi.ts`. */
export const OPENAPI_PATH = join(__dirname, 'openapi.json');

writeFileSync(OPENAPI_PATH, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
process.stdout.write(`wrote ${OPENAPI_PATH}\n`);
