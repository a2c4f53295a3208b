#!/usr/bin/env python3
"""Container health check: `ecomm-healthcheck URL [KEY.PATH=VALUE ...]`.

Exit 0 when GET URL answers 200 and, for each KEY.PATH=VALUE, the JSON body holds VALUE at that
path (e.g. `dag_processor.status=healthy` on Airflow's /api/v2/monitor/health); exit 1 otherwise,
with the reason on stderr (`docker inspect` shows it). Standard library only: images carry no curl.
"""

import json
import sys
import urllib.request


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    url, expectations = argv[0], argv[1:]
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read()
            status = response.status
    except (OSError, ValueError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url}: HTTP {status}", file=sys.stderr)
        return 1
    if not expectations:
        return 0
    try:
        document = json.loads(body)
    except ValueError:
        print(f"{url}: the body is not JSON", file=sys.stderr)
        return 1
    for expectation in expectations:
        path, _, expected = expectation.partition("=")
        value = document
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if str(value) != expected:
            print(f"{url}: {path} is {value!r}, expected {expected!r}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
