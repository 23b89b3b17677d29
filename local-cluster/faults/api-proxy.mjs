#!/usr/bin/env node
// A fault-injecting HTTPS reverse proxy in front of the stand-in's kube-apiserver, for
// the fault scenarios: it forwards every request (bearer tokens and all; watches stream
// chunk by chunk) and answers a share of the requests that match a rule with 429, 503,
// a TCP reset, a delay, or cuts a response off mid-stream. Rules are set at start
// (--rules JSON / --rules-file) and at runtime on a plain-HTTP control port:
//   GET /_faults            counters: requests seen, per rule matched and injected
//   POST /_faults           add rules: a rule or {"rules": [...]}; answers their ids
//   PUT /_faults            replace all rules ({"rules": [...]}); counters of old rules go
//   DELETE /_faults[/<id>]  remove all rules (or one)
//   POST /_faults/reset     zero the counters
// Both ports listen on 127.0.0.1 only. Once listening it prints one JSON line to stdout:
//   {"url":"https://127.0.0.1:<port>","control":"http://127.0.0.1:<port>","upstream":"..."}
// SIGTERM / SIGINT stop it. See local-cluster/README.md, "Fault injection".
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const ACTIONS = new Set(['429', '503', 'reset', 'delay', 'cut']);

const USAGE = `usage: api-proxy.mjs [options]
  --run-dir DIR        the stand-in's run dir (default: $ECOMMERCE_DEPLOY_RUN, else <repo>/.cache/local-cluster);
                       upstream, CA and serving cert/key default to its env file and pki/
  --upstream URL       the kube-apiserver (default: LOCAL_CLUSTER_SERVER from the env file)
  --ca FILE            CA that signed the apiserver's cert (default: <run dir>/pki/ca.crt)
  --cert FILE --key FILE   serving cert/key, signed by that CA for IP:127.0.0.1 (default: pki/apiserver.*)
  --port N             HTTPS port on 127.0.0.1 (default 0: a free one)
  --control-port N     control port on 127.0.0.1 (default 0: a free one)
  --rules JSON         initial rules: a rule, a list, or {"rules": [...]}
  --rules-file FILE    the same, from a file
  --log-requests       a stderr line per request: method, path, user agent (to write rules)
A rule: {"id"?, "method"?: "GET"|["GET",...], "path"?: regex on the path (no query),
  "watch"?: true|false, "userAgent"?: regex on User-Agent (helm's requests say Helm/...), "action": "429"|"503"|"reset"|"delay"|"cut",
  "probability"?: 0..1 (default 1), "every"?: N (fire on every Nth match), "skip"?: N (let the
  first N matches pass), "times"?: N (fire at most N times), "after"?: epoch ms or ISO time,
  "retryAfter"?: seconds (429 default 1; 503 none), "delayMs"?: ms (delay), "afterMs"?: ms (cut:
  forward, then reset the connection this long after the response began)}`;

function parse() {
  const { values } = parseArgs({
    options: {
      'run-dir': { type: 'string' },
      upstream: { type: 'string' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      port: { type: 'string', default: '0' },
      'control-port': { type: 'string', default: '0' },
      rules: { type: 'string' },
      'rules-file': { type: 'string' },
      'log-requests': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const runDir = values['run-dir'] ?? process.env.ECOMMERCE_DEPLOY_RUN ?? join(HERE, '..', '..', '.cache', 'local-cluster');
  const pki = join(runDir, 'pki');
  let upstream = values.upstream;
  if (!upstream) {
    const env = readFileSync(join(runDir, 'env'), 'utf8');
    upstream = /^LOCAL_CLUSTER_SERVER="?([^"\n]+)"?$/m.exec(env)?.[1];
    if (!upstream) throw new Error(`no LOCAL_CLUSTER_SERVER in ${join(runDir, 'env')}`);
  }
  let rules = [];
  if (values['rules-file']) rules = rulesOf(JSON.parse(readFileSync(values['rules-file'], 'utf8')));
  if (values.rules) rules = rules.concat(rulesOf(JSON.parse(values.rules)));
  return {
    upstream: new URL(upstream),
    ca: readFileSync(values.ca ?? join(pki, 'ca.crt')),
    cert: readFileSync(values.cert ?? join(pki, 'apiserver.crt')),
    key: readFileSync(values.key ?? join(pki, 'apiserver.key')),
    port: Number(values.port),
    controlPort: Number(values['control-port']),
    rules,
    logRequests: Boolean(values['log-requests']),
  };
}

// ---- rules --------------------------------------------------------------------------

let nextId = 1;

/** A rule, a list of rules or {"rules": [...]} -> validated rules with fresh counters. */
function rulesOf(doc) {
  const list = Array.isArray(doc) ? doc : Array.isArray(doc?.rules) ? doc.rules : [doc];
  return list.map(makeRule);
}

function makeRule(r) {
  if (!r || typeof r !== 'object') throw new Error('a rule must be an object');
  const action = String(r.action ?? '');
  if (!ACTIONS.has(action)) throw new Error(`rule action must be one of ${[...ACTIONS].join(', ')}, not ${JSON.stringify(r.action)}`);
  const num = (k, min) => {
    if (r[k] === undefined) return undefined;
    if (typeof r[k] !== 'number' || !(r[k] >= min)) throw new Error(`rule ${k} must be a number >= ${min}`);
    return r[k];
  };
  const probability = num('probability', 0) ?? 1;
  if (probability > 1) throw new Error('rule probability must be in 0..1');
  const methods = r.method === undefined ? undefined : [r.method].flat().map((m) => String(m).toUpperCase());
  if (r.watch !== undefined && typeof r.watch !== 'boolean') throw new Error('rule watch must be true or false');
  const after = r.after === undefined ? undefined : typeof r.after === 'number' ? r.after : Date.parse(r.after);
  if (after !== undefined && Number.isNaN(after)) throw new Error(`rule after is not a time: ${r.after}`);
  const id = r.id === undefined ? `r${nextId++}` : String(r.id);
  return {
    spec: {
      id,
      ...(methods && { method: methods }),
      ...(r.path !== undefined && { path: String(r.path) }),
      ...(r.watch !== undefined && { watch: r.watch }),
      ...(r.userAgent !== undefined && { userAgent: String(r.userAgent) }),
      action,
      probability,
      ...(r.every !== undefined && { every: num('every', 1) }),
      ...(r.skip !== undefined && { skip: num('skip', 0) }),
      ...(r.times !== undefined && { times: num('times', 1) }),
      ...(after !== undefined && { after: new Date(after).toISOString() }),
      ...(r.retryAfter !== undefined && { retryAfter: num('retryAfter', 0) }),
      ...(r.delayMs !== undefined && { delayMs: num('delayMs', 0) }),
      ...(r.afterMs !== undefined && { afterMs: num('afterMs', 0) }),
    },
    path: r.path === undefined ? undefined : new RegExp(String(r.path)),
    userAgent: r.userAgent === undefined ? undefined : new RegExp(String(r.userAgent)),
    after,
    matched: 0,
    injected: 0,
  };
}

function isWatch(url) {
  const w = url.searchParams.get('watch');
  return w === 'true' || w === '1' || url.pathname.includes('/watch/');
}

/** Counts the request against every matching rule; the first rule that fires wins. */
function decide(rules, method, url, userAgent) {
  const watch = isWatch(url);
  let fired;
  for (const rule of rules) {
    const s = rule.spec;
    if (s.method && !s.method.includes(method)) continue;
    if (rule.path && !rule.path.test(url.pathname)) continue;
    if (s.watch !== undefined && s.watch !== watch) continue;
    if (rule.userAgent && !rule.userAgent.test(userAgent)) continue;
    if (rule.after !== undefined && Date.now() < rule.after) continue;
    rule.matched++;
    if (fired) continue;
    if (s.skip !== undefined && rule.matched <= s.skip) continue;
    if (s.times !== undefined && rule.injected >= s.times) continue;
    if (s.every !== undefined && (rule.matched - (s.skip ?? 0)) % s.every !== 0) continue;
    if (s.probability < 1 && Math.random() >= s.probability) continue;
    rule.injected++;
    fired = rule;
  }
  return fired;
}

// ---- the proxy ------------------------------------------------------------------------

function status(code, reason, message, retryAfter) {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(retryAfter !== undefined && { details: { retryAfterSeconds: retryAfter } }),
    code,
  });
}

function reset(socket) {
  // An RST, not a FIN, so the client sees ECONNRESET: on the TCP socket under the TLS one.
  const tcp = socket._parent ?? socket;
  try {
    tcp.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

function main() {
  const opts = parse();
  let rules = opts.rules;
  const counts = { requests: 0, forwarded: 0, injected: 0, upstreamErrors: 0 };
  const log = (msg) => process.stderr.write(`${new Date().toISOString()} api-proxy ${msg}\n`);

  const forward = (req, res, cutAfterMs) => {
    counts.forwarded++;
    const headers = { ...req.headers, host: opts.upstream.host };
    const up = httpsRequest(
      {
        host: opts.upstream.hostname,
        port: opts.upstream.port,
        method: req.method,
        path: req.url,
        headers,
        ca: opts.ca,
        agent: false,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.rawHeaders);
        res.flushHeaders();
        if (cutAfterMs !== undefined) {
          setTimeout(() => {
            upRes.destroy();
            reset(req.socket);
          }, cutAfterMs).unref();
        }
        upRes.on('data', (chunk) => res.write(chunk));
        upRes.on('end', () => res.end());
        upRes.on('error', () => res.destroy());
      },
    );
    up.on('error', (err) => {
      counts.upstreamErrors++;
      log(`upstream error for ${req.method} ${req.url}: ${err.message}`);
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'application/json' });
        res.end(status(502, 'InternalError', `api-proxy: upstream ${err.message}`));
      } else res.destroy();
    });
    // A client that goes away (e.g. a closed watch) ends the upstream request too.
    res.on('close', () => up.destroy());
    req.pipe(up);
  };

  const server = createHttpsServer({ cert: opts.cert, key: opts.key }, (req, res) => {
    counts.requests++;
    const url = new URL(req.url ?? '/', 'https://proxy');
    const userAgent = req.headers['user-agent'] ?? '';
    if (opts.logRequests) log(`${req.method} ${req.url} (${userAgent})`);
    const rule = decide(rules, req.method ?? 'GET', url, userAgent);
    if (!rule) return forward(req, res);
    counts.injected++;
    const s = rule.spec;
    log(`rule ${s.id}: ${s.action} for ${req.method} ${req.url} (${userAgent})`);
    switch (s.action) {
      case '429':
      case '503': {
        const code = Number(s.action);
        const retryAfter = s.retryAfter ?? (code === 429 ? 1 : undefined);
        const body =
          code === 429
            ? status(429, 'TooManyRequests', 'Too many requests, please try again later. (injected by api-proxy)', retryAfter)
            : status(503, 'ServiceUnavailable', 'The server is currently unable to handle the request (injected by api-proxy)', retryAfter);
        req.resume();
        res.writeHead(code, {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          ...(retryAfter !== undefined && { 'Retry-After': String(retryAfter) }),
        });
        return res.end(body);
      }
      case 'reset':
        return reset(req.socket);
      case 'delay':
        return setTimeout(() => (req.socket.destroyed ? undefined : forward(req, res)), s.delayMs ?? 1000);
      case 'cut':
        return forward(req, res, s.afterMs ?? 0);
    }
  });
  // exec / attach / port-forward (SPDY, websockets): a raw TLS tunnel after the handshake request.
  server.on('upgrade', (req, socket, head) => {
    counts.requests++;
    counts.forwarded++;
    const up = tlsConnect({ host: opts.upstream.hostname, port: Number(opts.upstream.port), ca: opts.ca, servername: undefined }, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  const sendJson = (res, code, doc) => {
    const body = JSON.stringify(doc, null, 2) + '\n';
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  const snapshot = () => ({
    upstream: opts.upstream.href.replace(/\/$/, ''),
    ...counts,
    rules: rules.map((r) => ({ ...r.spec, matched: r.matched, injected: r.injected })),
  });
  const control = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      try {
        if (path === '/_faults' && req.method === 'GET') return sendJson(res, 200, snapshot());
        if (path === '/_faults' && (req.method === 'POST' || req.method === 'PUT')) {
          const added = rulesOf(JSON.parse(body || '{}'));
          const ids = new Set(added.map((r) => r.spec.id));
          const kept = req.method === 'PUT' ? [] : rules.filter((r) => !ids.has(r.spec.id));
          rules = [...kept, ...added];
          log(`rules: ${rules.map((r) => JSON.stringify(r.spec)).join(' ') || 'none'}`);
          return sendJson(res, 200, { ids: added.map((r) => r.spec.id), ...snapshot() });
        }
        if (path === '/_faults' && req.method === 'DELETE') {
          rules = [];
          log('rules: none');
          return sendJson(res, 200, snapshot());
        }
        if (path.startsWith('/_faults/') && req.method === 'DELETE') {
          const id = decodeURIComponent(path.slice('/_faults/'.length));
          if (!rules.some((r) => r.spec.id === id)) return sendJson(res, 404, { error: `no rule ${id}` });
          rules = rules.filter((r) => r.spec.id !== id);
          return sendJson(res, 200, snapshot());
        }
        if (path === '/_faults/reset' && req.method === 'POST') {
          Object.assign(counts, { requests: 0, forwarded: 0, injected: 0, upstreamErrors: 0 });
          for (const r of rules) Object.assign(r, { matched: 0, injected: 0 });
          return sendJson(res, 200, snapshot());
        }
        return sendJson(res, 404, { error: `no such endpoint ${req.method} ${path}` });
      } catch (err) {
        return sendJson(res, 400, { error: err.message });
      }
    });
  });

  let listening = 0;
  const ready = () => {
    if (++listening < 2) return;
    const info = {
      url: `https://127.0.0.1:${server.address().port}`,
      control: `http://127.0.0.1:${control.address().port}`,
      upstream: opts.upstream.href.replace(/\/$/, ''),
    };
    process.stdout.write(JSON.stringify(info) + '\n');
    log(`listening on ${info.url} (control ${info.control}) -> ${info.upstream}; ${rules.length} rule(s)`);
  };
  server.listen(opts.port, '127.0.0.1', ready);
  control.listen(opts.controlPort, '127.0.0.1', ready);

  const stop = (sig) => {
    log(`${sig}: stopping`);
    server.close();
    control.close();
    server.closeAllConnections?.();
    control.closeAllConnections?.();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

try {
  main();
} catch (err) {
  process.stderr.write(`api-proxy: ${err.message}\n${USAGE}\n`);
  process.exit(2);
}
