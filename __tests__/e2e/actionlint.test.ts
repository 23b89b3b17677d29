/**
 * actionlint over the real workflows, through `npm run actionlint`'s script (which
 * builds the pinned actionlint with Go on first use), plus proof that it can fail.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const actionlint = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'scripts', 'actionlint.mjs'), ...args], {
    encoding: 'utf8',
    timeout: 300_000,
  });

/** A throwaway repository with this action.yml, so `uses: ./` is checked against our real inputs. */
function project(workflow: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'actionlint-'));
  mkdirSync(join(dir, '.git'));
  mkdirSync(join(dir, '.github', 'workflows'), { recursive: true });
  mkdirSync(join(dir, 'dist'));
  copyFileSync(join(root, 'action.yml'), join(dir, 'action.yml'));
  writeFileSync(join(dir, 'dist', 'index.js'), '');
  const file = join(dir, '.github', 'workflows', 'check.yml');
  writeFileSync(file, workflow);
  return file;
}

const workflow = (step: string) => `name: check
on:
  workflow_dispatch:
    inputs:
      tag:
        type: string
        required: true
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
${step}
`;

describe('actionlint', () => {
  // The first run may build actionlint with Go; later runs reuse .cache/bin/actionlint.
  beforeAll(() => {
    const res = actionlint('-version');
    if (res.status !== 0) throw new Error(`could not get actionlint:\n${res.stderr}`);
  }, 300_000);

  it('passes on .github/workflows', () => {
    const res = actionlint();
    expect({ status: res.status, output: res.stdout + res.stderr }).toEqual({ status: 0, output: '' });
  });

  it('accepts a correct use of this action', () => {
    const res = actionlint(
      project(
        workflow(
          '      - uses: ./\n        with:\n          image-tag: ${{ inputs.tag }}\n          dry-run: true',
        ),
      ),
    );
    expect({ status: res.status, output: res.stdout }).toEqual({ status: 0, output: '' });
  });

  it('fails on an undefined workflow input and on an input action.yml does not have', () => {
    const res = actionlint(
      project(
        workflow(
          '      - run: echo "${{ inputs.nope }}"\n      - uses: ./\n        with:\n          image-tag: x\n          tag: y',
        ),
      ),
    );
    expect(res.status).not.toBe(0);
    expect(res.stdout).toContain('property "nope" is not defined');
    expect(res.stdout).toContain('input "tag" is not defined in action "ecommerce-deploy"');
  });

  it('fails when a required input of this action is missing', () => {
    const res = actionlint(project(workflow('      - uses: ./\n        with:\n          dry-run: true')));
    expect(res.status).not.toBe(0);
    expect(res.stdout).toMatch(/missing input "image-tag" which is required/);
  });
});
