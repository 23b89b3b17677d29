"""The local stand-in for the AWS side of EKS, started by local-cluster/up.sh.

One process, one port (127.0.0.1 only):
  * moto (in-process, so the seeded EKS cluster can be patched to point at the local
    kube-apiserver) behind a middleware that counts calls per service and action;
  * /authenticate: the kube-apiserver's TokenReview webhook, which verifies EKS bearer
    tokens (presigned STS GetCallerIdentity URLs) the way EKS does, including the
    SigV4 signature, against a small table of test credentials;
  * /_harness/calls, /_harness/calls/reset, /_harness/ready: for tests and benchmarks;
  * /_harness/credentials, /_harness/cluster-endpoint, /_harness/token-max-age: the test
    credentials (credentials.json) and fault knobs (route the tool through a proxy,
    make the webhook refuse tokens older than N seconds).

Run with the venv from scripts/moto-env.sh: .cache/venv/bin/python harness.py --help
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import io
import json
import logging
import re
import signal
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

ACCOUNT = "123456789012"  # moto's default account
# The six services, shared with scripts/stand-in.mjs and the tests.
with open(Path(__file__).parent.parent / "services.json", encoding="utf-8") as _f:
    SERVICES = json.load(_f)["services"]
# Test credentials the webhook knows (AWS's documented example keys), with the TokenReview
# groups of each identity: data shared with the tests. The env file written by up.sh
# exports the first pair.
CREDENTIALS_FILE = Path(__file__).with_name("credentials.json")


def load_credentials(path: Path) -> dict[str, dict]:
    """access key id -> {secret, session_token?, arn, user_id, groups}."""
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)["credentials"]
    table = {}
    for e in entries:
        table[e["accessKeyId"]] = {
            "secret": e["secretAccessKey"],
            **({"session_token": e["sessionToken"]} if e.get("sessionToken") else {}),
            "arn": e["arn"],
            "user_id": e["userId"],
            "groups": list(e["groups"]),
        }
    return table


# What EKS (aws-iam-authenticator's verifier) enforces.
TOKEN_PREFIX = "k8s-aws-v1."
MAX_TOKEN_BYTES = 4096
TOKEN_MAX_AGE = timedelta(minutes=15)  # presigned STS URLs are honoured 15 min after X-Amz-Date
MAX_CLOCK_SKEW = timedelta(minutes=5)  # SigV4 refuses dates this far in the future
MAX_EXPIRES = 60  # what our token and `aws eks get-token` send; older authenticators insist on <= 60
ALLOWED_PARAMS = {
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
}
STS_HOST = re.compile(r"^sts\.([a-z]{2}(?:-gov)?-[a-z]+-\d+)\.amazonaws\.com$")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

log = logging.getLogger("harness")


class TokenRefused(Exception):
    pass


def verify_token(
    token: str,
    cluster_name: str,
    now: datetime,
    credentials: dict[str, dict],
    max_age: timedelta = TOKEN_MAX_AGE,
) -> dict:
    """The caller's identity, or TokenRefused saying why (never echoing the token).
    max_age: how long after X-Amz-Date a token is honoured (EKS: 15 minutes)."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenRefused("token is too large")
    if not token.startswith(TOKEN_PREFIX):
        raise TokenRefused(f"token is missing the {TOKEN_PREFIX!r} prefix")
    body = token[len(TOKEN_PREFIX):]
    try:
        url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as err:
        raise TokenRefused(f"token is not base64url: {err}") from None
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise TokenRefused(f"unexpected scheme {parts.scheme!r} in pre-signed URL")
    host = parts.netloc
    if host == "sts.amazonaws.com":
        host_region = "us-east-1"
    elif m := STS_HOST.match(host):
        host_region = m.group(1)
    else:
        raise TokenRefused(f"unexpected hostname {host!r} in pre-signed URL")
    if parts.path != "/":
        raise TokenRefused("unexpected path in pre-signed URL")

    raw = parse_qs(parts.query, keep_blank_values=True)
    params: dict[str, str] = {}
    for key, values in raw.items():
        if key.lower() not in ALLOWED_PARAMS:
            raise TokenRefused(f"non-whitelisted query parameter {key!r}")
        if len(values) != 1:
            raise TokenRefused(f"query parameter {key!r} has several values")
        params[key] = values[0]
    lower = {k.lower(): v for k, v in params.items()}
    if lower.get("action") != "GetCallerIdentity":
        raise TokenRefused("unexpected Action in pre-signed URL (want GetCallerIdentity)")
    if lower.get("version") != "2011-06-15":
        raise TokenRefused("unexpected Version in pre-signed URL (want 2011-06-15)")
    if lower.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise TokenRefused("unexpected X-Amz-Algorithm (want AWS4-HMAC-SHA256)")
    signed_headers = lower.get("x-amz-signedheaders", "").split(";")
    if "x-k8s-aws-id" not in signed_headers:
        raise TokenRefused("client did not sign the x-k8s-aws-id header in the pre-signed URL")
    if "host" not in signed_headers:
        raise TokenRefused("client did not sign the host header in the pre-signed URL")
    if extra := sorted(set(signed_headers) - {"host", "x-k8s-aws-id"}):
        raise TokenRefused(f"unexpected signed headers {extra} (only host and x-k8s-aws-id can be replayed)")
    try:
        expires = int(lower.get("x-amz-expires", ""))
    except ValueError:
        raise TokenRefused("X-Amz-Expires is missing or not a number") from None
    if not 0 <= expires <= MAX_EXPIRES:
        raise TokenRefused(f"invalid X-Amz-Expires {expires} (must be 0..{MAX_EXPIRES})")
    amz_date = lower.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise TokenRefused("X-Amz-Date is missing or not yyyymmddThhmmssZ") from None
    if now > signed_at + max_age:
        limit = "15 minute" if max_age == TOKEN_MAX_AGE else f"{max_age.total_seconds():g} second"
        raise TokenRefused(f"X-Amz-Date is expired ({limit} expiration) {signed_at.isoformat()}")
    if signed_at > now + MAX_CLOCK_SKEW:
        raise TokenRefused(f"X-Amz-Date {signed_at.isoformat()} is in the future")

    scope = lower.get("x-amz-credential", "").split("/")
    if len(scope) != 5 or scope[3:] != ["sts", "aws4_request"]:
        raise TokenRefused("malformed X-Amz-Credential (want AKID/date/region/sts/aws4_request)")
    access_key, scope_date, scope_region = scope[:3]
    if scope_date != amz_date[:8]:
        raise TokenRefused("X-Amz-Credential date does not match X-Amz-Date")
    if scope_region != host_region:
        raise TokenRefused(f"credential scope region {scope_region!r} does not match host {host!r}")
    cred = credentials.get(access_key)
    if cred is None:
        raise TokenRefused(f"InvalidClientTokenId: unknown access key {access_key}")
    session_token = lower.get("x-amz-security-token")
    if session_token != cred.get("session_token"):
        raise TokenRefused(f"InvalidClientTokenId: security token missing or wrong for {access_key}")

    # Recompute the signature for what EKS replays: GET of this URL with the cluster's name.
    headers = {"host": host, "x-k8s-aws-id": cluster_name}
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(params.items())
        if k != "X-Amz-Signature"
    )
    canonical_headers = "".join(f"{h}:{headers[h].strip()}\n" for h in sorted(signed_headers))
    key = _signing_key(cred["secret"], scope_date, scope_region, "sts")
    given = lower.get("x-amz-signature", "")
    # Empty-body hash is what SDK presigners use for STS; UNSIGNED-PAYLOAD is also accepted by AWS.
    for payload_hash in (EMPTY_SHA256, "UNSIGNED-PAYLOAD"):
        canonical_request = "\n".join(
            ["GET", "/", canonical_query, canonical_headers, ";".join(sorted(signed_headers)), payload_hash]
        )
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date,
                "/".join(scope[1:]),
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, given):
            break
    else:
        raise TokenRefused(
            "SignatureDoesNotMatch: the signature is not valid for this cluster "
            f"({cluster_name}) and access key {access_key}"
        )

    arn = cred["arn"]
    session = cred["user_id"].split(":", 1)[1] if ":" in cred["user_id"] else ""
    return {
        "username": arn,
        "uid": f"aws-iam-authenticator:{ACCOUNT}:{cred['user_id'].split(':')[0]}",
        "groups": list(cred["groups"]),
        "extra": {
            "arn": [arn],
            "accessKeyId": [access_key],
            **({"sessionName": [session]} if session else {}),
        },
    }


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


# ---- call counting ---------------------------------------------------------------------

CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# moto's REST-JSON services have no action in the request; name the ones deploys use.
EKS_ROUTES = [
    ("GET", re.compile(r"^/clusters/[^/]+$"), "DescribeCluster"),
    ("GET", re.compile(r"^/clusters$"), "ListClusters"),
    ("POST", re.compile(r"^/clusters$"), "CreateCluster"),
    ("DELETE", re.compile(r"^/clusters/[^/]+$"), "DeleteCluster"),
    ("GET", re.compile(r"^/clusters/[^/]+/node-groups$"), "ListNodegroups"),
    ("GET", re.compile(r"^/clusters/[^/]+/node-groups/[^/]+$"), "DescribeNodegroup"),
]


class Calls:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.by_service: dict[str, Counter] = {}
            self.token_reviews = Counter()

    def add(self, service: str, action: str) -> None:
        with self.lock:
            self.by_service.setdefault(service, Counter())[action] += 1

    def review(self, accepted: bool) -> None:
        with self.lock:
            self.token_reviews["accepted" if accepted else "refused"] += 1

    def snapshot(self) -> dict:
        with self.lock:
            services = {s: dict(sorted(c.items())) for s, c in sorted(self.by_service.items())}
            return {
                "total": sum(sum(c.values()) for c in self.by_service.values()),
                "services": services,
                "tokenReviews": {"accepted": 0, "refused": 0, **self.token_reviews},
            }


def classify(environ: dict, body: bytes) -> tuple[str, str]:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = CREDENTIAL_SCOPE.search(auth)
    service = m.group(1) if m else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return service, query["Action"][0]
    if body and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return service, form["Action"][0]
    method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
    if service == "eks":
        for want, pattern, action in EKS_ROUTES:
            if method == want and pattern.match(path):
                return service, action
    return service, f"{method} {path}"


# ---- the WSGI app ------------------------------------------------------------------------


class Harness:
    def __init__(self, moto_app, cluster_name: str, credentials_file: Path) -> None:
        self.moto_app = moto_app
        self.cluster_name = cluster_name
        self.credentials_file = credentials_file
        self.credentials = load_credentials(credentials_file)
        self.calls = Calls()
        self.ready = threading.Event()
        # Fault knobs for tests, changed at runtime through /_harness/...
        self.lock = threading.Lock()
        self.token_max_age = TOKEN_MAX_AGE
        self.cluster = None  # moto's EKS cluster object, set once seeded
        self.seeded_endpoint = ""

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/authenticate" and method == "POST":
            return self.authenticate(environ, start_response)
        if path == "/_harness/calls" and method == "GET":
            return _json(start_response, 200, self.calls.snapshot())
        if path == "/_harness/calls/reset" and method == "POST":
            self.calls.reset()
            return _json(start_response, 200, self.calls.snapshot())
        if path == "/_harness/ready":
            if self.ready.is_set():
                return _json(start_response, 200, {"ready": True, "cluster": self.cluster_name})
            return _json(start_response, 503, {"ready": False})
        if path == "/_harness/credentials" and method == "GET":
            with open(self.credentials_file, encoding="utf-8") as f:
                return _json(start_response, 200, {"credentials": json.load(f)["credentials"]})
        if path.startswith("/_harness/cluster-endpoint") and self.cluster is not None:
            return self.cluster_endpoint(environ, start_response, method, path)
        if path.startswith("/_harness/token-max-age"):
            return self.max_age(environ, start_response, method, path)
        if path.startswith("/_harness/"):
            return _json(start_response, 404, {"error": f"no such harness endpoint {method} {path}"})
        # moto reads the body itself: buffer it so it can be inspected and replayed.
        body = _read_body(environ)
        if not path.startswith("/moto-api"):
            self.calls.add(*classify(environ, body))
        return self.moto_app(environ, start_response)

    def authenticate(self, environ, start_response):
        try:
            review = json.loads(_read_body(environ) or b"{}")
            spec = review.get("spec") or {}
            with self.lock:
                max_age = self.token_max_age
            user = verify_token(
                str(spec.get("token", "")), self.cluster_name, datetime.now(timezone.utc), self.credentials, max_age
            )
            status = {"authenticated": True, "user": user}
            if spec.get("audiences"):
                status["audiences"] = spec["audiences"]
            log.info("TokenReview accepted: %s", user["username"])
        except TokenRefused as err:
            status = {"authenticated": False, "error": str(err)}
            log.info("TokenReview refused: %s", err)
        except ValueError as err:
            return _json(start_response, 400, {"error": f"not a TokenReview: {err}"})
        self.calls.review(status["authenticated"])
        return _json(
            start_response,
            200,
            {"apiVersion": review.get("apiVersion", "authentication.k8s.io/v1"), "kind": "TokenReview", "status": status},
        )


    def cluster_endpoint(self, environ, start_response, method: str, path: str):
        """The endpoint moto's DescribeCluster returns: point the tool at a proxy, and back."""
        if path == "/_harness/cluster-endpoint" and method == "POST":
            try:
                endpoint = json.loads(_read_body(environ) or b"{}").get("endpoint", "")
            except ValueError as err:
                return _json(start_response, 400, {"error": f"not JSON: {err}"})
            if not isinstance(endpoint, str) or not re.match(r"^https://[^/\s]+$", endpoint):
                return _json(start_response, 400, {"error": 'want {"endpoint": "https://host:port"}'})
            self.cluster.endpoint = endpoint
            log.info("EKS cluster %s endpoint -> %s", self.cluster_name, endpoint)
        elif path == "/_harness/cluster-endpoint/reset" and method == "POST":
            self.cluster.endpoint = self.seeded_endpoint
            log.info("EKS cluster %s endpoint reset to %s", self.cluster_name, self.seeded_endpoint)
        elif not (path == "/_harness/cluster-endpoint" and method == "GET"):
            return _json(start_response, 404, {"error": f"no such harness endpoint {method} {path}"})
        return _json(start_response, 200, {"endpoint": self.cluster.endpoint, "seeded": self.seeded_endpoint})

    def max_age(self, environ, start_response, method: str, path: str):
        """How old (by X-Amz-Date) a token the webhook still accepts may be."""
        if path == "/_harness/token-max-age" and method == "POST":
            try:
                seconds = json.loads(_read_body(environ) or b"{}").get("seconds")
            except ValueError as err:
                return _json(start_response, 400, {"error": f"not JSON: {err}"})
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                return _json(start_response, 400, {"error": 'want {"seconds": <number >= 0>}'})
            with self.lock:
                self.token_max_age = timedelta(seconds=seconds)
            log.info("token max age -> %gs", seconds)
        elif path == "/_harness/token-max-age/reset" and method == "POST":
            with self.lock:
                self.token_max_age = TOKEN_MAX_AGE
            log.info("token max age reset to %gs", TOKEN_MAX_AGE.total_seconds())
        elif not (path == "/_harness/token-max-age" and method == "GET"):
            return _json(start_response, 404, {"error": f"no such harness endpoint {method} {path}"})
        with self.lock:
            seconds = self.token_max_age.total_seconds()
        return _json(start_response, 200, {"seconds": seconds, "default": TOKEN_MAX_AGE.total_seconds()})


def _read_body(environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _json(start_response, code: int, doc) -> list[bytes]:
    data = json.dumps(doc).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 503: "Service Unavailable"}[code]
    start_response(f"{code} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


# ---- seeding ------------------------------------------------------------------------------


def image_manifest(repo: str, tag: str) -> str:
    """A schema-2 manifest; moto derives the digest from the layer digests, so make them unique."""

    def digest(s: str) -> str:
        return "sha256:" + hashlib.sha256(s.encode()).hexdigest()

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1470,
                "digest": digest(f"{repo}:{tag}:config"),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2811,
                    "digest": digest(f"{repo}:{tag}:layer"),
                }
            ],
        }
    )


def seed(endpoint: str, args):
    """Through moto's own API (so the data is exactly what a client would have made),
    then patch the EKS cluster in-process: moto invents an endpoint and CA."""
    import boto3
    from moto.eks.models import eks_backends

    session = boto3.session.Session(
        aws_access_key_id=next(iter(load_credentials(CREDENTIALS_FILE))),
        aws_secret_access_key="seed",
        region_name=args.region,
    )
    ecr = session.client("ecr", endpoint_url=endpoint)
    iam = session.client("iam", endpoint_url=endpoint)
    eks = session.client("eks", endpoint_url=endpoint)

    for repo in dict.fromkeys(SERVICES + args.repositories):
        ecr.create_repository(repositoryName=repo)
        for tag in args.tags:
            ecr.put_image(repositoryName=repo, imageTag=tag, imageManifest=image_manifest(repo, tag))
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
    )
    # IRSA: the cluster's OIDC provider, and each service's role trusting the chart's
    # ServiceAccount (named after the release) in deploy.yaml's namespace (and the test ones).
    issuer = oidc_issuer(args.region, args.cluster_name)
    iam.create_open_id_connect_provider(
        Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
    )
    # The extra repositories are extra services (the benchmark's synthetic fleet): each gets its role too.
    for service in dict.fromkeys(SERVICES + args.repositories):
        iam.create_role(
            RoleName=f"{service}-role",
            AssumeRolePolicyDocument=json.dumps(web_identity_trust(issuer, TRUSTED_NAMESPACES, service)),
        )
    iam.create_role(RoleName="eks-cluster-role", AssumeRolePolicyDocument=trust)
    eks.create_cluster(
        name=args.cluster_name,
        version=args.kubernetes_version,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster-role",
        resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d", "subnet-4e5f6a7b", "subnet-8c9d0e1f"]},
    )
    with open(args.ca_file, "rb") as f:
        ca_data = base64.b64encode(f.read()).decode()
    cluster = eks_backends[ACCOUNT][args.region].clusters[args.cluster_name]
    cluster.endpoint = f"https://127.0.0.1:{args.apiserver_port}"
    cluster.certificate_authority = {"data": ca_data}
    # moto invents a random issuer; EKS keeps one per cluster, and the provider above is for this one.
    cluster.identity = {"oidc": {"issuer": issuer}}
    return cluster


def oidc_issuer(region: str, cluster_name: str) -> str:
    """Like EKS: https://oidc.eks.<region>.amazonaws.com/id/<32 upper-case hex>, fixed per cluster name."""
    return f"https://oidc.eks.{region}.amazonaws.com/id/" + hashlib.sha256(cluster_name.encode()).hexdigest()[:32].upper()


# deploy.yaml's namespace, and the ones the e2e tests, fault scenarios and benchmarks deploy the same values to.
TRUSTED_NAMESPACES = ["production", "e2e-*", "bench-*", "faults-*"]


def web_identity_trust(issuer: str, namespaces: list[str], service_account: str) -> dict:
    """The trust policy an IRSA role needs (what eksctl and the AWS docs write), for these namespaces."""
    host_path = issuer.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host_path}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringLike": {
                        f"{host_path}:sub": [f"system:serviceaccount:{ns}:{service_account}" for ns in namespaces],
                    },
                    "StringEquals": {f"{host_path}:aud": "sts.amazonaws.com"},
                },
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 for moto + webhook")
    parser.add_argument("--apiserver-port", type=int, required=True, help="the local kube-apiserver's port")
    parser.add_argument("--ca-file", required=True, help="PEM of the CA that signed the apiserver cert")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--cluster-name", default="ecommerce-local")
    parser.add_argument("--kubernetes-version", default="1.35")
    parser.add_argument("--tags", nargs="*", default=["v1", "v2"], help="image tags seeded in every repository")
    parser.add_argument("--repositories", nargs="*", default=[], help="extra ECR repositories (and IRSA roles) to seed")
    parser.add_argument(
        "--credentials-file", type=Path, default=CREDENTIALS_FILE, help="test credentials (default: %(default)s)"
    )
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    harness = Harness(DomainDispatcherApplication(create_backend_app), args.cluster_name, args.credentials_file)
    server = make_server("127.0.0.1", args.port, harness, threaded=True, request_handler=MotoRequestHandler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    started = time.monotonic()
    endpoint = f"http://127.0.0.1:{args.port}"
    harness.cluster = seed(endpoint, args)
    harness.seeded_endpoint = harness.cluster.endpoint
    harness.calls.reset()  # the seeding is not what anyone wants to count
    harness.ready.set()
    log.info(
        "ready in %.1fs on %s: cluster %s -> https://127.0.0.1:%d, repositories seeded with tags %s",
        time.monotonic() - started, endpoint, args.cluster_name, args.apiserver_port, " ".join(args.tags),
    )
    thread.join()


if __name__ == "__main__":
    main()
