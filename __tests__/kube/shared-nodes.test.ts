/** One node list for a run's verifications, listed again only when it cannot be right. */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { sharedNodes } from '../../src/kube/verify.js';

const node = (name: string): V1Node => ({ metadata: { name } });
const podOn = (nodeName?: string): V1Pod => ({ spec: { nodeName, containers: [] } });

function lister(names: string[][]) {
  let calls = 0;
  const list = async () => {
    const batch = names[Math.min(calls, names.length - 1)]!;
    calls += 1;
    return batch.map(node);
  };
  return { list, calls: () => calls };
}

it('lists once for many services whose pods run on known nodes', async () => {
  const nodes = sharedNodes();
  const l = lister([['n1', 'n2', 'n3']]);
  for (let i = 0; i < 6; i++) await nodes([podOn('n1'), podOn('n3'), podOn(undefined)], l.list);
  expect(l.calls()).toBe(1);
});

it('lists again when a pod runs on a node the list lacks (added since)', async () => {
  const nodes = sharedNodes();
  const l = lister([['n1'], ['n1', 'n4']]);
  await nodes([podOn('n1')], l.list);
  const again = await nodes([podOn('n4')], l.list);
  expect(l.calls()).toBe(2);
  expect(again.map((n) => n.metadata!.name)).toEqual(['n1', 'n4']);
});

it('lists again once the list is older than its age limit, and after a failed list', async () => {
  const nodes = sharedNodes(0);
  const l = lister([['n1']]);
  await nodes([podOn('n1')], l.list);
  await new Promise((r) => setTimeout(r, 5));
  await nodes([podOn('n1')], l.list);
  expect(l.calls()).toBe(2);

  const failing = sharedNodes();
  let tries = 0;
  const flaky = async () => {
    tries += 1;
    if (tries === 1) throw new Error('forbidden');
    return [node('n1')];
  };
  await expect(failing([podOn('n1')], flaky)).rejects.toThrow('forbidden');
  await expect(failing([podOn('n1')], flaky)).resolves.toHaveLength(1);
});
