import { traceFromWorkflow } from '../../src/trace.js';

describe('traceFromWorkflow', () => {
  it('links the commit, the run and the actor', () => {
    expect(
      traceFromWorkflow({
        sha: 'abc123',
        serverUrl: 'https://github.com',
        repository: 'shop/deploy',
        runId: 42,
        actor: 'ada',
      }),
    ).toEqual({
      commitSha: 'abc123',
      runUrl: 'https://github.com/shop/deploy/actions/runs/42',
      actor: 'ada',
    });
  });

  it('leaves out what a run outside Actions does not have', () => {
    expect(traceFromWorkflow({ sha: '', serverUrl: 'https://github.com', runId: NaN, actor: '' })).toEqual({
      commitSha: undefined,
      runUrl: undefined,
      actor: undefined,
    });
  });
});
