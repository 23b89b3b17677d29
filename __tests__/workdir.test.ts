import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePrivateDir, sweepLeftovers } from '../src/workdir.js';

/** A pid that was alive and is now gone: a child we started and waited for. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('private temp dirs and the sweep of a killed run’s', () => {
  let parent: string;
  beforeEach(() => (parent = mkdtempSync(join(tmpdir(), 'workdir-test-'))));
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  it('makes a 0700 dir named with this pid and marked as this host’s', async () => {
    const dir = await makePrivateDir(parent, 'kube');
    expect(dir).toMatch(new RegExp(`/ecommerce-deploy-kube-${process.pid}-[A-Za-z0-9]{6}$`));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('removes the dirs of a dead run and keeps those of live runs, other hosts and strangers', async () => {
    const mine = await makePrivateDir(parent);
    const dead = await deadPid();
    // What a killed run leaves: its work dir (with a secret) and its kubeconfig dir.
    const left = [
      join(parent, `ecommerce-deploy-${dead}-abc123`),
      join(parent, `ecommerce-deploy-kube-${dead}-xyz789`),
    ];
    for (const dir of left) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(join(dir, '.owner'), JSON.stringify({ pid: dead, host: hostname() }));
      writeFileSync(join(dir, 'registry.json'), '{"auths":{}}');
    }
    // A dead pid's dir from another host (a container sharing /tmp): its pids mean nothing here.
    const otherHost = join(parent, `ecommerce-deploy-${dead}-oth3r1`);
    mkdirSync(otherHost);
    writeFileSync(join(otherHost, '.owner'), JSON.stringify({ pid: dead, host: 'another-host' }));
    // Same name pattern, no owner file: not ours to remove.
    const stranger = join(parent, `ecommerce-deploy-${dead}-str4ng`);
    mkdirSync(stranger);
    // A live process's dir (our parent process stands in for another live run).
    const live = join(parent, `ecommerce-deploy-${process.ppid}-l1ve00`);
    mkdirSync(live);
    writeFileSync(join(live, '.owner'), JSON.stringify({ pid: process.ppid, host: hostname() }));

    const removed = await sweepLeftovers(parent);

    expect(removed.sort()).toEqual(left.sort());
    for (const dir of left) expect(existsSync(dir)).toBe(false);
    expect(readdirSync(parent).sort()).toEqual(
      [mine, otherHost, stranger, live].map((d) => d.slice(parent.length + 1)).sort(),
    );
  });

  it('never fails a run: a missing parent sweeps nothing', async () => {
    await expect(sweepLeftovers(join(parent, 'absent'))).resolves.toEqual([]);
  });
});
