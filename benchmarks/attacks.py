"""Hostile clients against hubdesk's production command, one worker class after another.

Each attack of tests/attackers.py runs for its own few seconds against hubdesk under
gunicorn (the image's command, 2 workers as shipped, ``-k`` chosen here), straight to its
port and through Node's configurable-http-proxy (zero-to-jupyterhub's proxy); meanwhile
the server's memory (all its processes) and CPU are sampled and ``/health/live`` is asked
every 0.1 s with a 1 s timeout, as a kubelet would. hubdesk needs no hub for any of this
(no attack signs in: nobody has to), so none is started.

    python benchmarks/attacks.py [--gunicorn="-k gthread --threads 16"] [--only big] [--direct-only]

Prints one row per attack and path; ``--json FILE`` writes them too. docs/serving.md
has the numbers that chose the worker class.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shlex
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness import HERE, PREFIX, Gunicorn
from hubdesk.devhub import free_port

# the attacks are the test suite's (tests/attackers.py, or wherever the tiers put it)
TESTS = HERE.parent / "tests"
sys.path[:0] = [str(p.parent) for p in sorted(TESTS.rglob("attackers.py"))[:1]]
from attackers import ATTACKS, Watch, node_proxy, rss_mib  # noqa: E402


def env() -> dict:
    return {
        "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",  # never called by these pages
        "JUPYTERHUB_API_TOKEN": secrets.token_hex(32),
        "JUPYTERHUB_SERVICE_NAME": "hubdesk",
        "JUPYTERHUB_SERVICE_PREFIX": PREFIX,
        "JUPYTERHUB_CLIENT_ID": "service-hubdesk",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{PREFIX}oauth_callback",
        "HUBDESK_SECRET_KEY": secrets.token_hex(32),
    }


def run(gunicorn_args: list[str], app: str | None, only: str | None, direct_only: bool):
    rows = []
    with tempfile.TemporaryDirectory(prefix="hubdesk-attacks-") as tmp:
        root = Path(tmp)
        port = free_port()
        # gunicorn's command line wins over its configuration file
        command = [*Gunicorn.COMMAND[:-1], *gunicorn_args, app or Gunicorn.COMMAND[-1]]
        server = Gunicorn(root, {**env(), "HUBDESK_STATE_DIR": str(root / "state")}, port, command)
        server.start()
        try:
            server.wait_listening()
            health = f"{server.url}{PREFIX}health/live"
            proxy_port = free_port()
            with node_proxy(server.url, proxy_port, free_port(), root / "chp.log"):
                for name in ATTACKS:
                    if only and only not in name:
                        continue
                    paths = [("direct", port), ("proxy", proxy_port)][: 1 if direct_only else 2]
                    for via, target in paths:
                        stop = threading.Event()
                        with Watch(server.process.pid, health) as watch:
                            threads = ATTACKS[name]("127.0.0.1", target, f"{PREFIX}groups/", stop)
                            for t in threads:
                                t.join(timeout=60)
                            stop.set()
                        time.sleep(5)
                        row = {"attack": name, "via": via, **watch.report()}
                        row["rss_5s_after_mib"] = round(rss_mib(server.process.pid))
                        rows.append(row)
                        print(json.dumps(row), flush=True)
        finally:
            server.stop()
    return rows


def table(results: dict[str, list[dict]]) -> str:
    """Markdown: one row per attack and path, the candidates side by side."""
    names = list(results)
    head = "| attack | via | " + " | ".join(names) + " |"
    lines = [head, "|---|---|" + "---|" * len(names)]
    keys = [(r["attack"], r["via"]) for r in next(iter(results.values()))]
    for attack, via in keys:
        cells = []
        for name in names:
            row = next(r for r in results[name] if (r["attack"], r["via"]) == (attack, via))
            health = (
                f"{row['health_failed']}/{row['health_probes']} failed"
                if row["health_failed"]
                else f"slowest {row['health_slowest_s']:.2f} s"
            )
            cells.append(f"{row['rss_peak_mib']} MiB, {row['cpu_s']} CPU-s, health {health}")
        lines.append(f"| {attack} | {via} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gunicorn", default="", help="more gunicorn options (e.g. -k gthread)")
    parser.add_argument("--app", help="another application than hubdesk.wsgi:application")
    parser.add_argument("--only", help="run the attacks whose name contains this")
    parser.add_argument("--direct-only", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--table", nargs="+", metavar="NAME=FILE", help="print earlier --json runs side by side"
    )
    args = parser.parse_args(argv)
    if args.table:
        runs = dict(item.split("=", 1) for item in args.table)
        print(table({name: json.loads(Path(f).read_text()) for name, f in runs.items()}))
        return 0
    rows = run(shlex.split(args.gunicorn), args.app, args.only, args.direct_only)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
