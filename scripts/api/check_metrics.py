"""Checks `GET /metrics` of a running `cloacina serve` with the Prometheus text parser of `prometheus_client`.

Usage: check_metrics.py BASE_URL TENANT WORKFLOW

Runs WORKFLOW once for TENANT (`?wait=true`), then reads the metrics: the content type is Prometheus' text format
0.0.4, the whole text parses, the families the README names are there with their types, the run is counted, and
every histogram is consistent (cumulative buckets ending in `+Inf`, equal to `_count`). Exits 1 naming what is wrong.
"""

import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

# Families every host has from its start, as the parser names them (a counter without `_total`), and their types
# (cloacina_takeovers_total and cloacina_worker_crashes_total appear once something was counted).
EXPECTED = {
    "cloacina_executions": "counter",
    "cloacina_tasks": "counter",
    "cloacina_task_duration_seconds": "histogram",
    "cloacina_active_executions": "gauge",
    "cloacina_reloads": "counter",
    "cloacina_package_load_errors": "gauge",
    "cloacina_tenant_unavailable": "gauge",
    "cloacina_executions_claimed": "counter",
    "cloacina_hosts_live": "gauge",
    "cloacina_packages_quarantined": "gauge",
}


def fail(message):
    print(f"metrics check: {message}", file=sys.stderr)
    sys.exit(1)


def request(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=60) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def check_histogram(family):
    series = {}
    for sample in family.samples:
        labels = {k: v for k, v in sample.labels.items() if k != "le"}
        key = tuple(sorted(labels.items()))
        entry = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if sample.name.endswith("_bucket"):
            entry["buckets"].append((float(sample.labels["le"]), sample.value))
        elif sample.name.endswith("_count"):
            entry["count"] = sample.value
        elif sample.name.endswith("_sum"):
            entry["sum"] = sample.value
    for key, entry in series.items():
        buckets = sorted(entry["buckets"])
        if not buckets or buckets[-1][0] != float("inf"):
            fail(f"{family.name}{dict(key)}: no +Inf bucket")
        counts = [value for _, value in buckets]
        if counts != sorted(counts):
            fail(f"{family.name}{dict(key)}: buckets are not cumulative: {buckets}")
        if entry["count"] != counts[-1] or entry["sum"] is None:
            fail(f"{family.name}{dict(key)}: _count {entry['count']} is not the +Inf bucket {counts[-1]}, or no _sum")


def main():
    if len(sys.argv) != 4:
        fail("usage: check_metrics.py BASE_URL TENANT WORKFLOW")
    base, tenant, workflow = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]

    status, _, text = request(f"{base}/tenants/{tenant}/workflows?wait=true", "POST", {"workflow_name": workflow})
    if status != 200 or json.loads(text).get("status") != "Completed":
        fail(f"running {workflow} for {tenant} answered {status}: {text[:500]}")

    status, content_type, text = request(f"{base}/metrics")
    if status != 200 or content_type.replace(" ", "") != "text/plain;version=0.0.4":
        fail(f"GET /metrics answered {status} with content type {content_type!r}")
    try:
        families = {family.name: family for family in text_string_to_metric_families(text)}
    except Exception as error:  # the parser raises ValueError (and others) on malformed lines
        fail(f"the exposition does not parse: {error}")

    for name, kind in EXPECTED.items():
        if name not in families:
            fail(f"no family {name} (families: {', '.join(sorted(families))})")
        if families[name].type != kind:
            fail(f"{name} is a {families[name].type}, not a {kind}")
    for family in families.values():
        if not family.name.startswith("cloacina_"):
            fail(f"family {family.name} lacks the cloacina_ prefix")
        if family.type == "histogram":
            check_histogram(family)

    completed = [
        sample.value
        for sample in families["cloacina_executions"].samples
        if sample.name == "cloacina_executions_total"
        and sample.labels.get("tenant") == tenant
        and sample.labels.get("status") == "completed"
    ]
    if not completed or completed[0] < 1:
        fail(f'cloacina_executions_total{{tenant="{tenant}",status="completed"}} does not count the run: {completed}')
    live = [sample.value for sample in families["cloacina_hosts_live"].samples]
    if live != [1.0]:
        fail(f"cloacina_hosts_live is {live}, not [1.0] (one host serves)")
    print(f"metrics check: {len(families)} families parse, {sum(len(f.samples) for f in families.values())} samples")


if __name__ == "__main__":
    main()
