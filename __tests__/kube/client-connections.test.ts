import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { reuseConnections } from '../../src/kube/client.js';

/** A kubeconfig for an https API server; `proxy` puts it behind a proxy. */
function kubeConfig(opts: { proxy?: string } = {}) {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: 'https://127.0.0.1:6443',
        caData: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString(
          'base64',
        ),
        ...(opts.proxy ? { proxyUrl: opts.proxy } : {}),
      },
    ],
    users: [{ name: 'u', token: 'abc' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

/** The agent client-node gives one request of a generated API client. */
async function agentOf(kc: KubeConfig) {
  const ctx = new RequestContext('https://127.0.0.1:6443/api/v1/namespaces', HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getAgent();
}

describe('reuseConnections', () => {
  it('gives every request of a KubeConfig one keep-alive agent, so a TLS connection is reused', async () => {
    const plain = kubeConfig();
    expect(await agentOf(plain)).not.toBe(await agentOf(plain)); // client-node alone: a new agent per request

    const kc = kubeConfig();
    reuseConnections(kc);
    const first = await agentOf(kc);
    expect(await agentOf(kc)).toBe(first);
    expect((first as { keepAlive?: boolean }).keepAlive).toBe(true);
    // The fetch options (watches) use the same agent.
    expect((await kc.applyToFetchOptions({})).agent).toBe(first);
  });

  it('keeps client-node’s own agents for a proxied cluster', async () => {
    const kc = kubeConfig({ proxy: 'http://127.0.0.1:3128' });
    reuseConnections(kc);
    expect(await agentOf(kc)).not.toBe(await agentOf(kc));
  });
});
