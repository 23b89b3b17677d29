import { stopStandIn } from '../../scripts/stand-in.mjs';

export default async function globalTeardown() {
  if (process.env.E2E_KEEP_CLUSTER) return;
  stopStandIn({ runDir: process.env.E2E_RUN_DIR });
}
