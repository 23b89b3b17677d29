/**
 * The SDK clients retry throttling and 5xx (standard mode) and say so once per retry:
 * a real ECR client against a local HTTP server that fails the first answers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { awsClients, AWS_MAX_ATTEMPTS } from '../../src/aws/clients.js';

let server: Server;
let answers: { status: number; body: string }[] = [];
let seen = 0;
const saved = { ...process.env };

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen += 1;
      const a = answers.shift() ?? { status: 200, body: JSON.stringify({ repositories: [] }) };
      res.writeHead(a.status, { 'content-type': 'application/x-amz-json-1.1' }).end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
  });
});
afterAll(async () => {
  process.env = saved;
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  seen = 0;
});

const throttled = {
  status: 400,
  body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }),
};
const unavailable = {
  status: 503,
  body: JSON.stringify({ __type: 'ServiceUnavailableException', message: 'down' }),
};

it('retries throttling and 5xx, logging each retry once with its cause', async () => {
  answers = [throttled, unavailable];
  const said: string[] = [];
  const { ecr } = awsClients('us-east-1', (m) => said.push(m));
  await expect(ecr.send(new DescribeRepositoriesCommand({}))).resolves.toMatchObject({ repositories: [] });
  expect(seen).toBe(3);
  expect(said).toEqual([
    `ECR DescribeRepositoriesCommand: retry 1 of ${AWS_MAX_ATTEMPTS - 1} after ThrottlingException: Rate exceeded`,
    `ECR DescribeRepositoriesCommand: retry 2 of ${AWS_MAX_ATTEMPTS - 1} after ServiceUnavailableException: down`,
  ]);
});

it('gives up after the explicit attempt count', async () => {
  answers = Array.from({ length: AWS_MAX_ATTEMPTS + 2 }, () => unavailable);
  const said: string[] = [];
  const { ecr } = awsClients('us-east-1', (m) => said.push(m));
  await expect(ecr.send(new DescribeRepositoriesCommand({}))).rejects.toThrow('down');
  expect(seen).toBe(AWS_MAX_ATTEMPTS);
  expect(said).toHaveLength(AWS_MAX_ATTEMPTS - 1);
  answers = [];
});
