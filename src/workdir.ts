/**
 * The run's private temp dirs (values files, registry logins, the kubeconfig) and the
 * sweep of those a killed run left behind.
 *
 * A run removes its dirs on every exit it sees, signals included; SIGKILL (a runner
 * that dies, `kill -9`) leaves them. Each dir's name carries the pid of the run that made
 * it and holds an owner file naming the host, so the next run on the same host removes
 * the dirs whose run is gone, and never one of a run that still lives (or one of another
 * host or container sharing the temp dir, whose pids mean nothing here).
 */
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'ecommerce-deploy-';
const OWNER_FILE = '.owner';
const NAME = /^ecommerce-deploy-(?:kube-)?(\d+)-[A-Za-z0-9]{6}$/;

/** A fresh 0700 dir under `parent`, named and marked as this process's. `kind` tells the dirs of one run apart. */
export async function makePrivateDir(parent: string, kind?: string): Promise<string> {
  const dir = await mkdtemp(join(parent, `${PREFIX}${kind ? `${kind}-` : ''}${process.pid}-`));
  // mkdtemp creates it 0700; the explicit chmod keeps the guarantee visible and platform-proof.
  await chmod(dir, 0o700);
  await writeFile(join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid, host: hostname() }), {
    mode: 0o600,
  });
  return dir;
}

/**
 * Removes the dirs under `parent` that a run of this host left when it was killed: its
 * pid is gone. Returns what it removed; what it cannot read or remove it leaves (a
 * sweep never fails a run).
 */
export async function sweepLeftovers(parent: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const uid = process.getuid?.();
  for (const name of names) {
    const pid = Number(NAME.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    const dir = join(parent, name);
    try {
      if (uid !== undefined && (await stat(dir)).uid !== uid) continue;
      const owner = JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as {
        pid?: number;
        host?: string;
      };
      if (owner.pid !== pid || owner.host !== hostname()) continue;
      await rm(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // not ours, not readable, or gone already: leave it
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it lives, as another user's process.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
