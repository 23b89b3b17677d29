#!/usr/bin/env python3
"""Gives crash-looping pods the crash log, so `kubectl logs` (and ecommerce-deploy's
diagnostics) read what such a container printed before it died.

kwok serves container logs as the nodes' kubelet, from files its `ClusterLogs` and
`Logs` objects name, but it selects pods by namespace and name only. The crash loop is
triggered per pod (stages/pod.yaml: an image name containing "crashloop", or the
annotation local-cluster/fail: CrashLoopBackOff), so this watches pods and, for each pod
that trigger applies to, creates a kwok `Logs` object of the same name and namespace
(owned by the pod: the garbage collector deletes it with the pod). Its crashing
containers get the crash log as current and previous log, its others the healthy
start-up log: when a pod has a `Logs` object kwok uses it instead of `ClusterLogs`, with no
fallback for a container it does not name.

Python standard library only; talks to the API server with a client certificate.
"""
import argparse
import http.client
import json
import ssl
import sys
import time
from urllib.parse import urlsplit

FAIL_ANNOTATION = "local-cluster/fail"


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def crashing_containers(pod):
    """The containers stages/pod.yaml's pod-crashloop stage makes crash (same trigger)."""
    containers = pod.get("spec", {}).get("containers", [])
    annotations = pod["metadata"].get("annotations") or {}
    if annotations.get(FAIL_ANNOTATION) == "CrashLoopBackOff":
        return [c["name"] for c in containers]
    return [c["name"] for c in containers if "crashloop" in c.get("image", "")]


class Api:
    def __init__(self, server, ca, cert, key):
        url = urlsplit(server)
        self.host, self.port = url.hostname, url.port or 443
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.load_cert_chain(cert, key)

    def conn(self, timeout):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None):
        c = self.conn(10)
        try:
            headers = {"Accept": "application/json"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            c.request(method, path, body=data, headers=headers)
            resp = c.getresponse()
            return resp.status, json.loads(resp.read() or b"{}")
        finally:
            c.close()


class Binder:
    def __init__(self, api, crash_log, app_log, no_previous):
        self.api = api
        self.crash_log = crash_log
        self.app_log = app_log
        self.no_previous = no_previous
        self.bound = set()  # uids of pods that have their Logs object

    def handle(self, kind, pod):
        meta = pod["metadata"]
        uid = meta.get("uid")
        if kind == "DELETED":
            self.bound.discard(uid)
            return
        if uid in self.bound or meta.get("deletionTimestamp"):
            return
        crashing = crashing_containers(pod)
        if not crashing:
            return
        name, namespace = meta["name"], meta["namespace"]
        body = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "Logs",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "local-cluster-pod-logs"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid}],
            },
            # A waiting container's current log is its last run's, as on a kubelet.
            "spec": {
                "logs": [
                    {"containers": crashing, "logsFile": self.crash_log, "previousLogsFile": self.crash_log},
                    {"logsFile": self.app_log, "previousLogsFile": self.no_previous},  # the other containers
                ]
            },
        }
        status, answer = self.api.request("POST", f"/apis/kwok.x-k8s.io/v1alpha1/namespaces/{namespace}/logs", body)
        if status in (200, 201, 409):  # 409: a Logs of this name exists (an earlier run of this binder)
            self.bound.add(uid)
            log(f"{namespace}/{name}: crash log for {', '.join(crashing)}" + (" (already there)" if status == 409 else ""))
        else:
            log(f"{namespace}/{name}: creating Logs failed: {status} {answer.get('message', answer)}")

    def run(self):
        """List, then watch from the list's resourceVersion; list again after 410 Gone or an error."""
        rv = None
        while True:
            try:
                if rv is None:
                    status, pods = self.api.request("GET", "/api/v1/pods")
                    if status != 200:
                        raise RuntimeError(f"listing pods: {status} {pods.get('message')}")
                    for pod in pods["items"]:
                        self.handle("ADDED", pod)
                    rv = pods["metadata"]["resourceVersion"]
                rv = self.watch(rv)
            except Exception as err:  # the API server restarting, a dropped connection...
                log(f"watch interrupted ({err}); listing again in 1s")
                rv = None
                time.sleep(1)

    def watch(self, rv):
        c = self.api.conn(330)
        try:
            c.request("GET", f"/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion={rv}")
            resp = c.getresponse()
            if resp.status != 200:
                raise RuntimeError(f"watch: {resp.status}")
            for line in resp:
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    return None  # 410 Gone: the resourceVersion is too old
                rv = obj["metadata"].get("resourceVersion", rv)
                if event["type"] != "BOOKMARK":
                    self.handle(event["type"], obj)
            return rv
        finally:
            c.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--ca-file", required=True)
    p.add_argument("--cert-file", required=True)
    p.add_argument("--key-file", required=True)
    p.add_argument("--crash-log", required=True, help="CRI-format log file for crashing containers")
    p.add_argument("--app-log", required=True, help="CRI-format log file for the pod's other containers")
    p.add_argument("--no-previous", required=True, help="previousLogsFile of those (a file that does not exist)")
    args = p.parse_args()
    api = Api(args.server, args.ca_file, args.cert_file, args.key_file)
    log(f"watching pods on {args.server}; crash log {args.crash_log}")
    Binder(api, args.crash_log, args.app_log, args.no_previous).run()


if __name__ == "__main__":
    main()
