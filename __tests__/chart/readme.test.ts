// The chart README's Parameters section must be what readme-generator makes of the `## @param` comments.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chartDir, repoRoot } from './helm.js';

it('charts/ecommerce-service/README.md is up to date with values.yaml (run `npm run chart:readme`)', () => {
  const readme = path.join(chartDir, 'README.md');
  const copy = path.join(mkdtempSync(path.join(tmpdir(), 'chart-readme-')), 'README.md');
  copyFileSync(readme, copy);
  execFileSync(
    path.join(repoRoot, 'node_modules', '.bin', 'readme-generator'),
    ['--values', path.join(chartDir, 'values.yaml'), '--readme', copy],
    { cwd: repoRoot, stdio: 'pipe' },
  );
  expect(readFileSync(readme, 'utf8')).toBe(readFileSync(copy, 'utf8'));
});
