"""``hubdesk-demo``: a real local JupyterHub with hubdesk as a managed service.

The hub launches hubdesk with gunicorn exactly as in production; DummyAuthenticator
with one shared password, named servers, a mock single-user server, demo users,
groups and the staff roles from the README. Ctrl-C stops everything it started.

Its files (the log, hubdesk's database with the audit trail the Activity page shows) live
in ``--dir``, kept afterwards; without ``--dir``, in a temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import requests

from .db import default_url
from .devhub import (
    EVERY_SERVICE_SCOPE,
    GUNICORN_COMMAND,
    OAUTH_CLIENT_ALLOWED_SCOPES,
    PROFILES_FILE,
    SERVICE_NAME,
    LocalHub,
    free_port,
    hub_roles,
    proxy_command,
    proxy_streams,
)

STUDENTS_A = ["mrossi", "student1", "student2", "student3"]
STUDENTS_B = ["student4", "student5"]
LOGINS = [
    ("admin", "hub admin: everything"),
    ("helpdesk", "help-desk: users and servers of class-a"),
    ("teacher", "teacher: members and servers of class-a"),
    ("mrossi", "plain user: no access to hubdesk"),
]


def state_dir(root: Path) -> Path:
    """hubdesk's own state (its SQLite database: jobs, sessions, the audit trail)."""
    return root / "hubdesk-state"


def build_hub(root: Path, port: int) -> LocalHub:
    service_port = free_port()
    return LocalHub(
        root=root,
        public_port=port,
        users={
            "admin": {"admin": True},
            "helpdesk": {},
            "teacher": {},
            **{name: {} for name in STUDENTS_A + STUDENTS_B},
        },
        groups={
            "class-a": {"users": STUDENTS_A, "properties": {"course": "Intro to Python"}},
            "class-b": {"users": STUDENTS_B, "properties": {}},
        },
        # every feature, the README's optional scopes too (the demo creates no one itself)
        roles=hub_roles(
            helpdesk=["helpdesk"], teacher=["teacher"], service_scopes=EVERY_SERVICE_SCOPE
        ),
        named_server_limit_per_user=5,
        services=[
            {
                "name": SERVICE_NAME,
                "url": f"http://127.0.0.1:{service_port}",
                "command": GUNICORN_COMMAND,
                "environment": {
                    "HUBDESK_SECRET_KEY": secrets.token_hex(32),
                    "HUBDESK_WORKERS": "2",
                    "HUBDESK_PROFILES": str(PROFILES_FILE),
                    # said outright: a managed service gets no HUBDESK_* from the demo's
                    # own environment, and the Activity page reads this database
                    "HUBDESK_STATE_DIR": str(state_dir(root)),
                    "HUBDESK_DB_URL": default_url(str(state_dir(root))),
                    # a minute, not five: a server started while trying the demo shows on
                    # the usage pages soon after
                    "HUBDESK_USAGE_SAMPLE_SECONDS": "60",
                },
                "oauth_no_confirm": True,
                "oauth_client_allowed_scopes": OAUTH_CLIENT_ALLOWED_SCOPES,
            }
        ],
    )


def proxy_words() -> str:
    """Which proxy the demo runs, and whether a server's start progress will stream live."""
    try:
        command = proxy_command()
    except RuntimeError as e:
        return f"Proxy: {e}"
    if proxy_streams(command):
        return (
            f"Proxy: Node's configurable-http-proxy ({command[0]}): "
            "a server's start progress streams live."
        )
    return (
        f"Proxy: the pip configurable-http-proxy ({command[0]}), which holds each answer "
        "back: a server's start progress shows all at once when it ends. For live progress, "
        "install Node's (npm install configurable-http-proxy) and start the demo with "
        "HUBDESK_DEVHUB_PROXY=/path/to/node_modules/.bin/configurable-http-proxy."
    )


def wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="hubdesk-demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=8000, help="the hub's public port (default 8000)"
    )
    parser.add_argument("--dir", help="where the hub keeps its files (default: a new temp dir)")
    args = parser.parse_args(argv)

    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="hubdesk-demo-"))
    root = root.absolute()
    hub = build_hub(root, args.port)
    log_path = root / "jupyterhub.log"
    database = state_dir(root) / "hubdesk.sqlite"
    root.mkdir(parents=True, exist_ok=True)
    kept = (
        "kept when the demo stops"
        if args.dir
        else "a temporary folder, removed when the demo stops: pass --dir to keep it"
    )
    print(
        f"The demo's files are in {root} ({kept}):\n"
        f"  log       {log_path} (the hub's and hubdesk's, audit records included)\n"
        f"  database  {database} (hubdesk's: the audit trail of the Activity page, jobs)",
        flush=True,
    )

    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM ends the demo like Ctrl-C
    code = 1
    try:
        with open(log_path, "ab") as log:
            code = run(hub, args.port, log, log_path)
    finally:
        # a failed demo keeps its folder whatever: its log says why
        if args.dir or code:
            print(f"Kept {root}: its log and hubdesk's database are there.", flush=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
            print(
                f"Removed the temporary folder {root}, its log and hubdesk's database with it "
                "(--dir keeps them).",
                flush=True,
            )
    return code


def run(hub: LocalHub, port: int, log, log_path: Path) -> int:
    """Start the hub (which starts hubdesk), wait for Ctrl-C, stop everything; the exit code."""
    try:
        print(proxy_words(), flush=True)
        print(f"Starting JupyterHub on http://127.0.0.1:{port} ...", flush=True)
        hub.start(log=log)
        wait_for(f"{hub.public_url}/services/{SERVICE_NAME}/health", timeout=60)
        print(
            f"\nhubdesk is ready: {hub.public_url}/services/{SERVICE_NAME}/\n\n"
            f"Sign in with any of these users; the password is: {hub.password}\n"
            + "".join(f"  {name:<10} {what}\n" for name, what in LOGINS)
            + "\nEvery change made through hubdesk is on its Activity page: "
            f"{hub.public_url}/services/{SERVICE_NAME}/activity (as admin).\n"
            "\nPress Ctrl-C to stop the hub, hubdesk and every server they started.",
            flush=True,
        )
        while hub.process.poll() is None:
            time.sleep(0.5)
        print(
            f"JupyterHub exited (code {hub.process.returncode}); see {log_path}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    except RuntimeError as e:
        print(f"hubdesk-demo: {e} (see {log_path})", file=sys.stderr)
        return 1
    finally:
        hub.stop()


if __name__ == "__main__":
    sys.exit(main())
