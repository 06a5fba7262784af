import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  execFormCommands,
  healthcheck,
  leanFinalStage,
  lint,
  nodeEnvOnlyInFinalStage,
  noSecretCopies,
  nonRootUser,
  pinnedBases,
  stages,
} from './dockerfile-policy';

const ROOT = join(__dirname, '..', '..');
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const BASE = 'node:22-slim@sha256:dd9d21971ec4395903fa6143c2b9267d048ae01ca6d3ea96f16cb30df6187d94';

/** A minimal Dockerfile that passes every rule; each bad case changes one line of it. */
function good(overrides: { from?: string; user?: string | null; health?: string | null; cmd?: string; extra?: string; buildEnv?: string } = {}): string {
  return [
    `FROM ${BASE} AS build`,
    overrides.buildEnv ?? '',
    'RUN npm ci',
    `FROM ${overrides.from ?? BASE}`,
    'ENV NODE_ENV=production',
    'COPY --from=build /src/dist/ ./dist/',
    overrides.extra ?? '',
    overrides.user === null ? '' : `USER ${overrides.user ?? '1000:1000'}`,
    overrides.health === null ? '' : (overrides.health ?? 'HEALTHCHECK CMD ["node", "dist/healthcheck.js"]'),
    'ENTRYPOINT ["/usr/bin/tini", "--"]',
    overrides.cmd ?? 'CMD ["node", "dist/intake.js"]',
    '',
  ].join('\n');
}

describe('Dockerfile policy', () => {
  it('GIVEN the repository Dockerfile THEN every rule passes', () => {
    expect(lint(DOCKERFILE)).toEqual([]);
  });

  it('GIVEN the repository Dockerfile THEN it has a build stage and a final stage that runs as uid 1000 under tini', () => {
    const all = stages(DOCKERFILE);
    expect(all.map((s) => s.name)).toEqual(['build', 'runtime']);
    const final = all[1]?.instructions.map((i) => `${i.getKeyword()} ${i.getArgumentsContent() ?? ''}`) ?? [];
    expect(final).toContain('USER 1000:1000');
    expect(final).toContain('ENTRYPOINT ["/usr/bin/tini", "--"]');
    expect(final).toContain('CMD ["node", "dist/intake.js"]');
    expect(final.some((l) => /^ENV NODE_ENV=production/.test(l))).toBe(true);
  });

  it('GIVEN the minimal good Dockerfile THEN it passes, so each bad case below fails for one reason only', () => {
    expect(lint(good())).toEqual([]);
  });

  it.each([
    ['a tag without digest', 'node:22-slim'],
    ['latest', 'node:latest'],
    ['latest even with a digest', `node:latest@sha256:${'a'.repeat(64)}`],
    ['no tag at all', 'node'],
    ['a variable', '${BASE_IMAGE}'],
    ['a short digest', 'node:22-slim@sha256:abc123'],
  ])('WHEN the base is %s THEN pinned-base fails', (_case, from) => {
    expect(pinnedBases(good({ from })).map((f) => f.rule)).toEqual(['pinned-base']);
  });

  it('WHEN a stage builds FROM an earlier stage by name THEN pinned-base accepts it', () => {
    expect(pinnedBases(`FROM ${BASE} AS deps\nFROM deps AS build\n`)).toEqual([]);
  });

  it.each([
    ['root', 'root'],
    ['uid 0', '0'],
    ['root with a group', 'root:node'],
  ])('WHEN the final USER is %s THEN non-root-user fails', (_case, user) => {
    expect(nonRootUser(good({ user })).map((f) => f.rule)).toEqual(['non-root-user']);
  });

  it('WHEN the final stage has no USER (only the build stage had one) THEN non-root-user fails', () => {
    const df = good({ user: null }).replace('RUN npm ci', 'USER node\nRUN npm ci');
    expect(nonRootUser(df)).toHaveLength(1);
  });

  it.each([
    ['missing', null],
    ['NONE', 'HEALTHCHECK NONE'],
    ['shell form', 'HEALTHCHECK CMD curl -f http://localhost:8080/health'],
  ])('WHEN the HEALTHCHECK is %s THEN healthcheck fails', (_case, health) => {
    expect(healthcheck(good({ health })).map((f) => f.rule)).toEqual(['healthcheck']);
  });

  it.each([
    ['.env', 'COPY .env ./'],
    ['.env.production', 'COPY .env.production /app/.env'],
    ['a nested env file', 'COPY config/.env ./config/'],
    ['a secrets directory', 'COPY secrets/ /run/secrets/'],
    ['a private key', 'ADD deploy.pem /root/'],
    ['AWS credentials', 'COPY .aws /home/node/.aws'],
    ['an npmrc with a token', 'COPY .npmrc ./'],
    ['JSON form', 'COPY [".env", "./"]'],
  ])('WHEN the Dockerfile copies %s THEN no-secret-copy fails', (_case, extra) => {
    expect(noSecretCopies(good({ extra })).map((f) => f.rule)).toEqual(['no-secret-copy']);
  });

  it.each([
    ['shell-form CMD', 'CMD node dist/intake.js'],
    ['npm start', 'CMD npm start'],
    ['JSON npm start', 'CMD ["npm", "start"]'],
  ])('WHEN the final stage has a %s THEN exec-form fails', (_case, cmd) => {
    expect(execFormCommands(good({ cmd })).map((f) => f.rule)).toEqual(['exec-form']);
  });

  it('WHEN ENTRYPOINT is shell form THEN exec-form fails', () => {
    expect(execFormCommands(good({ extra: 'ENTRYPOINT tini --' }))).toHaveLength(1);
  });

  it('WHEN the build stage sets NODE_ENV=production THEN node-env-final-only fails', () => {
    expect(nodeEnvOnlyInFinalStage(good({ buildEnv: 'ENV NODE_ENV=production' })).map((f) => f.rule)).toEqual(['node-env-final-only']);
  });

  it.each([
    ['copies node_modules', 'COPY --from=build /src/node_modules ./node_modules'],
    ['copies the build context', 'COPY . .'],
    ['installs with npm', 'RUN npm ci --omit=dev'],
  ])('WHEN the final stage %s THEN lean-final-stage fails', (_case, extra) => {
    expect(leanFinalStage(good({ extra })).map((f) => f.rule)).toEqual(['lean-final-stage']);
  });
});

describe('.dockerignore', () => {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it.each(['.env', '.env.*', '**/.env', '.git', 'node_modules', 'cdk.out', 'test'])('keeps %s out of the build context', (pattern) => {
    expect(patterns).toContain(pattern);
  });

  it('re-includes nothing (a "!" pattern could let a secret back in)', () => {
    expect(patterns.filter((p) => p.startsWith('!'))).toEqual([]);
  });
});
