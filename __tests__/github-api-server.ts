/**
 * A local stand-in for the GitHub REST API that holds every request to GitHub's own
 * published OpenAPI description (@octokit/openapi, api.github.com): the route and method
 * must exist, path and query parameters and the JSON body must validate (a body key the
 * description does not name, or a query parameter it does not declare, is a violation
 * too). Answers are the description's examples, with the little state the Action needs:
 * comments created are listed back and can be updated, deployments get ids and statuses.
 *
 * Tests assert `violations` is empty. `failNext` makes the next calls of an operation
 * answer with an error (5xx, rate limits, 403) to test retries and warnings; `loseAnswer`
 * carries the next calls out and then answers with an error (the answer was lost).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import ajvFormats from 'ajv-formats';
import { OpenAPIBackend, type Document, type Operation } from 'openapi-backend';

export interface Recorded {
  method: string;
  path: string;
  operationId?: string;
  query: Record<string, string | string[]>;
  body: unknown;
  authorization?: string;
}

export interface Comment {
  id: number;
  issue: number;
  body: string;
}

export interface Deployment {
  id: number;
  ref: string;
  environment: string;
  payload: unknown;
  production_environment?: boolean;
  transient_environment?: boolean;
  auto_merge?: boolean;
  required_contexts?: string[];
  statuses: { state: string; log_url?: string; environment_url?: string; description?: string }[];
}

interface Fault {
  status: number;
  headers?: Record<string, string>;
  times: number;
  /** Carry the request out, then answer the error. */
  after?: boolean;
}

type Json = Record<string, unknown>;

// ajv-formats is CommonJS whose module.exports is the plugin itself.
const addFormats = ajvFormats as unknown as (ajv: unknown) => unknown;

let description: Promise<Document> | undefined;

/** GitHub's description, request bodies made strict: an unknown key is a violation, not ignored. */
function loadDescription(): Promise<Document> {
  description ??= (async () => {
    const require = createRequire(import.meta.url);
    const file = require.resolve('@octokit/openapi/generated/api.github.com.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content?: Record<string, { schema?: Json }> } }>
      >;
    };
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) {
        const schema = op?.requestBody?.content?.['application/json']?.schema;
        if (
          schema &&
          schema.type === 'object' &&
          schema.properties &&
          schema.additionalProperties === undefined
        ) {
          schema.additionalProperties = false;
        }
      }
    }
    return doc as unknown as Document;
  })();
  return description;
}

function firstExample(operation: Operation, status: string): unknown {
  const content = (
    operation.responses?.[status] as { content?: Record<string, { examples?: Json; example?: unknown }> }
  )?.content?.['application/json'];
  if (!content) return undefined;
  if (content.example !== undefined) return structuredClone(content.example);
  const first = Object.values(content.examples ?? {})[0] as { value?: unknown } | undefined;
  return first?.value === undefined ? undefined : structuredClone(first.value);
}

export class GitHubApiServer {
  readonly requests: Recorded[] = [];
  readonly violations: string[] = [];
  readonly comments: Comment[] = [];
  readonly deployments: Deployment[] = [];
  private readonly faults = new Map<string, Fault>();
  private nextId = 1000;
  private server?: Server;
  private api!: OpenAPIBackend;
  url = '';

  static async start(): Promise<GitHubApiServer> {
    const s = new GitHubApiServer();
    s.api = new OpenAPIBackend({
      definition: await loadDescription(),
      quick: true,
      coerceTypes: true,
      customizeAjv: (ajv) => addFormats(ajv as never) as never,
    });
    await s.api.init();
    s.server = createServer((req, res) => {
      s.handle(req, res).catch((err: unknown) => {
        s.violations.push(`server error on ${req.method} ${req.url}: ${String(err)}`);
        res.writeHead(500).end();
      });
    });
    await new Promise<void>((done) => s.server!.listen(0, '127.0.0.1', done));
    s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((done) => this.server?.close(() => done()) ?? done());
  }

  /** The next `times` calls of `operationId` answer `status` (with `headers`) instead. */
  failNext(operationId: string, status: number, headers: Record<string, string> = {}, times = 1): void {
    this.faults.set(operationId, { status, headers, times });
  }

  /** The next `times` calls of `operationId` are carried out, then answered with `status`. */
  loseAnswer(operationId: string, status: number, times = 1): void {
    this.faults.set(operationId, { status, times, after: true });
  }

  /** Calls of one operation, in order. */
  calls(operationId: string): Recorded[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const had = query[k];
      query[k] = had === undefined ? v : ([] as string[]).concat(had, v);
    }
    const method = (req.method ?? 'GET').toLowerCase();
    let body: unknown;
    const where = `${method.toUpperCase()} ${url.pathname}`;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        this.violations.push(`${where}: the body is not JSON`);
      }
    }
    const request = {
      method,
      path: url.pathname,
      query,
      body,
      headers: req.headers as Record<string, string>,
    };
    const recorded: Recorded = {
      method,
      path: url.pathname,
      query,
      body,
      authorization: req.headers.authorization,
    };
    this.requests.push(recorded);
    const operation = this.api.router.matchOperation(request);
    if (!operation) {
      this.violations.push(`${where}: no such route in GitHub's REST API description`);
      return this.send(res, 404, { message: 'Not Found' });
    }
    recorded.operationId = operation.operationId;
    const result = this.api.validator.validateRequest(request, operation);
    for (const e of result.errors ?? []) {
      this.violations.push(`${where} (${operation.operationId}): ${e.instancePath} ${e.message}`);
    }
    const declared = new Set(
      (operation.parameters ?? [])
        .map((p) => p as { in?: string; name?: string })
        .map((p) => (p.in === 'query' ? p.name : '')),
    );
    for (const key of Object.keys(query)) {
      if (!declared.has(key))
        this.violations.push(`${where} (${operation.operationId}): undeclared query parameter ${key}`);
    }
    if (!req.headers.authorization) this.violations.push(`${where}: no Authorization header`);
    const fault = this.faults.get(operation.operationId!);
    const params = this.api.router.parseRequest(request, operation).params as Record<string, string>;
    if (fault && fault.times > 0) {
      fault.times--;
      if (fault.after) this.answer(operation, params, body as Json, undefined, query);
      return this.send(res, fault.status, { message: `injected ${fault.status}` }, fault.headers);
    }
    this.answer(operation, params, body as Json, res, query);
  }

  private answer(
    operation: Operation,
    params: Record<string, string>,
    body: Json,
    /** None: carry the request out, answer nothing (the caller answers an error). */
    res: ServerResponse | undefined,
    query: Record<string, string | string[]> = {},
  ): void {
    const id = operation.operationId!;
    const example = (status: string) => (firstExample(operation, status) ?? {}) as Json;
    const repoUrl = `${this.url}/repos/${params.owner}/${params.repo}`;
    switch (id) {
      case 'issues/list-comments': {
        const issue = Number(params.issue_number);
        const base = example('200') as unknown as Json[];
        return this.send(
          res,
          200,
          this.comments
            .filter((c) => c.issue === issue)
            .map((c) => ({
              ...base[0],
              id: c.id,
              body: c.body,
              html_url: `https://github.com/${params.owner}/${params.repo}/pull/${issue}#issuecomment-${c.id}`,
            })),
        );
      }
      case 'issues/create-comment': {
        const issue = Number(params.issue_number);
        const c: Comment = { id: this.nextId++, issue, body: String(body.body) };
        this.comments.push(c);
        return this.send(res, 201, {
          ...example('201'),
          id: c.id,
          body: c.body,
          html_url: `https://github.com/${params.owner}/${params.repo}/pull/${issue}#issuecomment-${c.id}`,
        });
      }
      case 'issues/update-comment': {
        const c = this.comments.find((x) => x.id === Number(params.comment_id));
        if (!c) return this.send(res, 404, { message: 'Not Found' });
        c.body = String(body.body);
        return this.send(res, 200, {
          ...example('200'),
          id: c.id,
          body: c.body,
          html_url: `https://github.com/${params.owner}/${params.repo}/pull/${c.issue}#issuecomment-${c.id}`,
        });
      }
      case 'repos/create-deployment': {
        const d: Deployment = {
          id: this.nextId++,
          ref: String(body.ref),
          environment: String(body.environment ?? 'production'),
          payload: body.payload,
          production_environment: body.production_environment as boolean | undefined,
          transient_environment: body.transient_environment as boolean | undefined,
          auto_merge: body.auto_merge as boolean | undefined,
          required_contexts: body.required_contexts as string[] | undefined,
          statuses: [],
        };
        this.deployments.push(d);
        return this.send(res, 201, {
          ...example('201'),
          id: d.id,
          ref: d.ref,
          environment: d.environment,
          payload: d.payload,
          url: `${repoUrl}/deployments/${d.id}`,
        });
      }
      case 'repos/list-deployments': {
        const base = example('200') as unknown as Json[];
        return this.send(
          res,
          200,
          this.deployments
            .filter(
              (d) =>
                (!query.sha || d.ref === query.sha) &&
                (!query.environment || d.environment === query.environment),
            )
            .reverse()
            .map((d) => ({
              ...base[0],
              id: d.id,
              sha: d.ref,
              ref: d.ref,
              environment: d.environment,
              payload: d.payload,
            })),
        );
      }
      case 'repos/create-deployment-status': {
        const d = this.deployments.find((x) => x.id === Number(params.deployment_id));
        if (!d) return this.send(res, 404, { message: 'Not Found' });
        d.statuses.push({
          state: String(body.state),
          log_url: body.log_url as string | undefined,
          environment_url: body.environment_url as string | undefined,
          description: body.description as string | undefined,
        });
        return this.send(res, 201, { ...example('201'), id: this.nextId++, state: body.state });
      }
      default: {
        const status = Object.keys(operation.responses ?? {}).find((s) => s.startsWith('2')) ?? '200';
        const data = firstExample(operation, status);
        if (data === undefined) {
          res?.writeHead(Number(status)).end();
          return;
        }
        return this.send(res, Number(status), data);
      }
    }
  }

  private send(
    res: ServerResponse | undefined,
    status: number,
    data: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (!res) return;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(data));
  }
}
