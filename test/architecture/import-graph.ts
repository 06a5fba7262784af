/**
 * The project's import graph, read with the TypeScript compiler's own pre-processor (no type
 * check, so it is quick), and the layer rules from docs/architecture.md as one function over it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';

/** One edge: `from` (a repository path) imports `to` (a repository path, or a package name). */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
}

export interface LayerViolation extends ImportEdge {
  readonly rule: string;
}

const SERVICES = ['intake', 'worker', 'gateway'] as const;

function sourceFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f));
}

/** Every relative import (static, dynamic and `export … from`) of the TypeScript files under `dirs`. */
export function readImportGraph(root: string, dirs: readonly string[]): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of dirs.flatMap((d) => sourceFiles(root, d))) {
    const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      const to = fileName.startsWith('.') ? relative(root, resolve(root, dirname(file), fileName)) : fileName;
      edges.push({ from: file, to });
    }
  }
  return edges;
}

const serviceOf = (path: string): string | undefined => SERVICES.find((s) => path.startsWith(`runtime/src/${s}/`));

/**
 * Layers point down: the image's code (runtime/src) imports nothing from tooling, tests, benchmarks
 * or the CDK app; runtime/src/shared imports no service; a service imports no other service; the
 * CDK app takes only the runtime's shared contracts.
 */
export function layerViolations(edges: readonly ImportEdge[]): LayerViolation[] {
  const out: LayerViolation[] = [];
  for (const edge of edges) {
    const { from, to } = edge;
    const local = to.startsWith('runtime/') || to.startsWith('lib/') || to.startsWith('tools/') || to.startsWith('test/') || to.startsWith('bench/') || to.startsWith('bin/');
    if (!local) continue;
    if (from.startsWith('runtime/src/') && !to.startsWith('runtime/src/')) {
      out.push({ ...edge, rule: 'the image (runtime/src) imports only runtime/src' });
    } else if (from.startsWith('runtime/src/shared/') && serviceOf(to) !== undefined) {
      out.push({ ...edge, rule: 'runtime/src/shared imports no service' });
    } else if (serviceOf(from) !== undefined && serviceOf(to) !== undefined && serviceOf(from) !== serviceOf(to)) {
      out.push({ ...edge, rule: 'a service imports no other service' });
    } else if (from === 'runtime/src/healthcheck.ts' && serviceOf(to) !== undefined) {
      out.push({ ...edge, rule: 'the health check imports only shared' });
    } else if ((from.startsWith('lib/') || from.startsWith('bin/')) && to.startsWith('runtime/') && !to.startsWith('runtime/src/shared/')) {
      out.push({ ...edge, rule: 'the CDK app imports only the runtime contracts in runtime/src/shared' });
    } else if ((from.startsWith('lib/') || from.startsWith('bin/')) && (to.startsWith('tools/') || to.startsWith('test/') || to.startsWith('bench/'))) {
      out.push({ ...edge, rule: 'the CDK app imports no tooling, tests or benchmarks' });
    }
  }
  return out;
}
