/**
 * Dockerfile policy, in the spirit of hadolint's DL3002 (last USER root), DL3006/DL3007 (untagged
 * or `latest` base), DL3025 (JSON CMD) and DL3057 (HEALTHCHECK): hadolint cannot be installed here,
 * so the rules run on dockerfile-ast's parse tree. Each rule returns findings; an empty list passes.
 */
import { Copy, DockerfileParser, type Instruction } from 'dockerfile-ast';

export interface Finding {
  readonly rule: string;
  /** One-based line, as an editor shows it. */
  readonly line: number;
  readonly message: string;
}

interface Stage {
  readonly name: string | null;
  readonly instructions: readonly Instruction[];
}

function line(instruction: Instruction): number {
  return instruction.getRange().start.line + 1;
}

/** Splits the file into build stages at each FROM (dockerfile-ast keeps them flat). */
export function stages(dockerfile: string): Stage[] {
  const result: { name: string | null; instructions: Instruction[] }[] = [];
  for (const instruction of DockerfileParser.parse(dockerfile).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const args = instruction.getArguments().map((a) => a.getValue());
      const asIndex = args.findIndex((a) => a.toUpperCase() === 'AS');
      result.push({ name: asIndex >= 0 ? (args[asIndex + 1] ?? null) : null, instructions: [instruction] });
    } else {
      result.at(-1)?.instructions.push(instruction);
    }
  }
  return result;
}

function finalStage(dockerfile: string): Stage | undefined {
  return stages(dockerfile).at(-1);
}

const DIGEST = /@sha256:[0-9a-f]{64}$/;

/** Every FROM names an earlier stage or an image pinned by digest, never `latest`. */
export function pinnedBases(dockerfile: string): Finding[] {
  const findings: Finding[] = [];
  const known = new Set<string>();
  for (const stage of stages(dockerfile)) {
    const from = stage.instructions[0];
    if (from === undefined) continue;
    const image = from
      .getArguments()
      .map((a) => a.getValue())
      .find((a) => !a.startsWith('--'));
    if (image === undefined) {
      findings.push({ rule: 'pinned-base', line: line(from), message: 'FROM without an image' });
    } else if (known.has(image.toLowerCase())) {
      // A previous stage; it was checked when it was declared.
    } else if (image.includes('$')) {
      findings.push({ rule: 'pinned-base', line: line(from), message: `FROM ${image} uses a variable: write the image@sha256 digest literally` });
    } else if (/:latest(@|$)/.test(image)) {
      findings.push({ rule: 'pinned-base', line: line(from), message: `FROM ${image} uses "latest": name a version tag and pin its digest` });
    } else if (!DIGEST.test(image)) {
      findings.push({
        rule: 'pinned-base',
        line: line(from),
        message: `FROM ${image} is not pinned: append @sha256:<digest> (keep the tag for readers)`,
      });
    }
    if (stage.name !== null) known.add(stage.name.toLowerCase());
  }
  return findings;
}

/** The final stage sets USER to something other than root/0 (an absent USER means root). */
export function nonRootUser(dockerfile: string): Finding[] {
  const stage = finalStage(dockerfile);
  const users = stage?.instructions.filter((i) => i.getKeyword() === 'USER') ?? [];
  const last = users.at(-1);
  if (last === undefined) {
    return [{ rule: 'non-root-user', line: stage?.instructions[0] === undefined ? 1 : line(stage.instructions[0]), message: 'final stage has no USER, so it runs as root: add USER 1000:1000 (node)' }];
  }
  const user = (last.getArgumentsContent() ?? '').trim().split(':')[0] ?? '';
  if (user === 'root' || user === '0' || user === '') {
    return [{ rule: 'non-root-user', line: line(last), message: `final USER is "${user}": switch to the non-root node user (1000)` }];
  }
  return [];
}

/** The final stage declares a HEALTHCHECK in exec form (slim images have no shell tools to rely on). */
export function healthcheck(dockerfile: string): Finding[] {
  const checks = finalStage(dockerfile)?.instructions.filter((i) => i.getKeyword() === 'HEALTHCHECK') ?? [];
  const last = checks.at(-1);
  if (last === undefined) {
    return [{ rule: 'healthcheck', line: 1, message: 'final stage has no HEALTHCHECK: add HEALTHCHECK CMD ["node", "dist/healthcheck.js"]' }];
  }
  const content = last.getArgumentsContent() ?? '';
  if (/^NONE\b/i.test(content.trim())) {
    return [{ rule: 'healthcheck', line: line(last), message: 'HEALTHCHECK NONE disables the check: declare one' }];
  }
  if (!/\bCMD\s+\[/.test(content)) {
    return [{ rule: 'healthcheck', line: line(last), message: 'HEALTHCHECK CMD is in shell form: use the JSON array form' }];
  }
  return [];
}

const SECRET_SOURCE = [/(^|\/)\.env(\.|$)/i, /secret/i, /credential/i, /\.pem$/i, /\.key$/i, /(^|\/)id_(rsa|ed25519)/i, /(^|\/)\.npmrc$/i, /(^|\/)\.aws(\/|$)/i];

/** No COPY/ADD source looks like an env file, key or credential store. */
export function noSecretCopies(dockerfile: string): Finding[] {
  const findings: Finding[] = [];
  for (const stage of stages(dockerfile)) {
    for (const instruction of stage.instructions) {
      if (instruction.getKeyword() !== 'COPY' && instruction.getKeyword() !== 'ADD') continue;
      const args = instruction
        .getArguments()
        .map((a) => a.getValue())
        .filter((a) => !a.startsWith('--'));
      // Every argument but the last is a source (JSON form included once brackets are stripped).
      const sources = args.slice(0, -1).map((a) => a.replace(/^\[?"?|"?,?\]?$/g, ''));
      for (const source of sources) {
        if (SECRET_SOURCE.some((re) => re.test(source))) {
          findings.push({ rule: 'no-secret-copy', line: line(instruction), message: `${instruction.getKeyword()} ${source} would bake a secret into a layer: pass it at run time instead` });
        }
      }
    }
  }
  return findings;
}

/** CMD and ENTRYPOINT are JSON arrays running node itself, so it gets signals directly (no /bin/sh -c, no npm). */
export function execFormCommands(dockerfile: string): Finding[] {
  const findings: Finding[] = [];
  for (const instruction of finalStage(dockerfile)?.instructions ?? []) {
    const keyword = instruction.getKeyword();
    if (keyword !== 'CMD' && keyword !== 'ENTRYPOINT') continue;
    if (!(instruction.getArgumentsContent() ?? '').trim().startsWith('[')) {
      findings.push({ rule: 'exec-form', line: line(instruction), message: `${keyword} is in shell form: write it as a JSON array, e.g. ["node", "dist/intake.js"]` });
    } else if (keyword === 'CMD' && /^\[\s*"(npm|yarn|npx)"/.test((instruction.getArgumentsContent() ?? '').trim())) {
      findings.push({ rule: 'exec-form', line: line(instruction), message: 'CMD starts npm, which does not forward SIGTERM: run ["node", "dist/<role>.js"] directly' });
    }
  }
  return findings;
}

/** NODE_ENV=production only in the final stage: in the build stage npm ci would skip the bundler. */
export function nodeEnvOnlyInFinalStage(dockerfile: string): Finding[] {
  const all = stages(dockerfile);
  return all.slice(0, -1).flatMap((stage) =>
    stage.instructions
      .filter((i) => (i.getKeyword() === 'ENV' || i.getKeyword() === 'ARG') && /NODE_ENV\s*=?\s*"?production/.test(i.getArgumentsContent() ?? ''))
      .map((i) => ({ rule: 'node-env-final-only', line: line(i), message: 'NODE_ENV=production in a build stage makes npm ci skip devDependencies: set it in the final stage only' })),
  );
}

/** The final stage installs no packages with npm and copies only the build stage's dist/. */
export function leanFinalStage(dockerfile: string): Finding[] {
  const findings: Finding[] = [];
  for (const instruction of finalStage(dockerfile)?.instructions ?? []) {
    const keyword = instruction.getKeyword();
    const content = instruction.getArgumentsContent() ?? '';
    if (keyword === 'RUN' && /\b(npm|npx|yarn|pnpm)\s+(ci|install|i|add)\b/.test(content)) {
      findings.push({ rule: 'lean-final-stage', line: line(instruction), message: 'final stage runs a package install: install in the build stage and copy the bundles' });
    }
    const fromBuild = instruction instanceof Copy && instruction.getFromFlag() !== null;
    const sources = instruction.getArguments().slice(0, -1).map((a) => a.getValue());
    if ((keyword === 'COPY' || keyword === 'ADD') && !(fromBuild && sources.every((src) => /(^|\/)dist\/?$/.test(src)))) {
      findings.push({ rule: 'lean-final-stage', line: line(instruction), message: `${keyword} ${content} ships more than the bundles: COPY --from=<build stage> only dist/` });
    }
  }
  return findings;
}

export const ALL_RULES = [pinnedBases, nonRootUser, healthcheck, noSecretCopies, execFormCommands, nodeEnvOnlyInFinalStage, leanFinalStage] as const;

export function lint(dockerfile: string): Finding[] {
  return ALL_RULES.flatMap((rule) => rule(dockerfile));
}
