// One stand-in for the e2e run, in its own run dir so a developer's `npm run demo`
// cluster is left alone. Tests read its environment from E2E_RUN_DIR.
import { join } from 'node:path';
import { ensureStandIn, repoRoot, stopStandIn } from '../../scripts/stand-in.mjs';

export default async function globalSetup() {
  const runDir = process.env.E2E_RUN_DIR ?? join(repoRoot, '.cache', 'lc-e2e');
  process.env.E2E_RUN_DIR = runDir;
  stopStandIn({ runDir }); // a fresh cluster every run: no state left from an earlier one
  const started = Date.now();
  ensureStandIn({ runDir, quiet: true });
  process.stderr.write(
    `\ne2e: local EKS stand-in up in ${((Date.now() - started) / 1000).toFixed(1)}s (${runDir})\n`,
  );
}
