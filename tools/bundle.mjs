// Bundles the three services and the health check into dist/ with esbuild's JS API.
// The image ships only these files (no node_modules), so every dependency is bundled in.
//
//   node tools/bundle.mjs                  all entries
//   node tools/bundle.mjs healthcheck      only the named entries
//   OUTDIR=/tmp/x node tools/bundle.mjs    another output directory (tests use this)
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Output name -> source entry. The Dockerfile CMDs and the CDK task definitions use these names. */
export const ENTRIES = {
  intake: 'runtime/src/intake/main.ts',
  worker: 'runtime/src/worker/main.ts',
  gateway: 'runtime/src/gateway/main.ts',
  healthcheck: 'runtime/src/healthcheck.ts',
};

/**
 * Runtime assets next to the bundles: the worker reads dist/prompts when there is no ./prompts.
 * Each agent's prompts are a folder under it (lib/config/agents.ts), so the tree is copied whole.
 */
const PROMPTS_DIR = 'prompts';

/** Prompt files under `dir`, relative to it; READMEs document folders and are not prompts. */
function promptFiles(dir, prefix = '') {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const rel = join(prefix, entry.name);
    if (entry.isDirectory()) return promptFiles(dir, rel);
    return entry.name.endsWith('.md') && entry.name.toLowerCase() !== 'readme.md' ? [rel] : [];
  });
}

function copyPrompts(outdir) {
  const from = join(root, PROMPTS_DIR);
  if (!existsSync(from)) return [];
  const to = join(outdir, PROMPTS_DIR);
  const files = promptFiles(from);
  for (const f of files) {
    mkdirSync(dirname(join(to, f)), { recursive: true });
    copyFileSync(join(from, f), join(to, f));
  }
  return files.map((f) => join(PROMPTS_DIR, f));
}

function selectEntries(names) {
  const unknown = names.filter((n) => !(n in ENTRIES));
  if (unknown.length > 0) {
    throw new Error(`Unknown bundle entry ${unknown.join(', ')}: choose from ${Object.keys(ENTRIES).join(', ')}`);
  }
  const chosen = names.length > 0 ? names : Object.keys(ENTRIES);
  const missing = chosen.filter((n) => !existsSync(join(root, ENTRIES[n])));
  if (missing.length > 0) {
    throw new Error(
      `Missing entry source for ${missing.map((n) => `${n} (${ENTRIES[n]})`).join(', ')}: ` +
        'create the file or bundle only the entries that exist (node tools/bundle.mjs <name>...)',
    );
  }
  return Object.fromEntries(chosen.map((n) => [n, join(root, ENTRIES[n])]));
}

async function main() {
  const outdir = resolve(process.env.OUTDIR ?? join(root, 'dist'));
  const entryPoints = selectEntries(process.argv.slice(2));
  const result = await build({
    absWorkingDir: root,
    entryPoints,
    outdir,
    bundle: true,
    platform: 'node',
    // Same major as the pinned node:22-slim base; esbuild keeps syntax Node 22 runs natively.
    target: 'node22',
    format: 'cjs',
    minify: false,
    // Linked maps stay next to the bundles; the image runs with --enable-source-maps for readable stacks.
    sourcemap: 'linked',
    // Source paths in the maps stay relative to the repo, not to the build machine.
    sourceRoot: '',
    metafile: true,
    logLevel: 'warning',
  });
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (file.endsWith('.js')) console.log(`${relative(root, resolve(root, file))}  ${(meta.bytes / 1024).toFixed(0)} KiB`);
  }
  const assets = copyPrompts(outdir);
  if (assets.length > 0) console.log(`${relative(root, outdir) || '.'}/${PROMPTS_DIR}/  ${assets.length} prompt file(s)`);
}

main().catch((err) => {
  console.error(`bundle failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
