/** scripts/release-notes.mjs: the notes release.yml gives a vX.Y.Z release, from CHANGELOG.md. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const notes = (...args: string[]) =>
  spawnSync(process.execPath, ['scripts/release-notes.mjs', ...args], { encoding: 'utf8' });

const changelog = `# Changelog

## [Unreleased]

## [1.1.0] - 2027-01-02

### Fixed

- the thing

## [1.0.0] - 2026-12-02

### Added

- everything

[Unreleased]: https://example.com/compare/v1.1.0...HEAD
[1.1.0]: https://example.com/v1.1.0
`;

describe('release notes', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'changelog-')), 'CHANGELOG.md');
  writeFileSync(file, changelog);

  it("prints one version's section, without its heading or the next one", () => {
    expect(notes('v1.1.0', file)).toMatchObject({ status: 0, stdout: '### Fixed\n\n- the thing\n' });
    // the last section ends at the link references
    expect(notes('v1.0.0', file)).toMatchObject({ status: 0, stdout: '### Added\n\n- everything\n' });
  });

  it('fails, naming the version, when the changelog has no section for it or it is empty', () => {
    expect(notes('v2.0.0', file)).toMatchObject({
      status: 1,
      stderr: expect.stringContaining('"## [2.0.0]"'),
    });
    writeFileSync(file, changelog.replace('### Fixed\n\n- the thing\n', ''));
    expect(notes('v1.1.0', file)).toMatchObject({ status: 1, stderr: expect.stringContaining('empty') });
    expect(notes('1.x', file).status).toBe(2);
  });

  it("has notes for package.json's version in the repository's CHANGELOG.md", () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const run = notes(`v${version}`);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('### Added');
  });
});
