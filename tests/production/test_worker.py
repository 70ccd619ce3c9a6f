"""hubdesk-worker: the job runner in a process of its own, as an operator runs it."""

import os
import signal
import subprocess
import sys

from helpers.stack import wait_for
from hubdesk.db import Database
from hubdesk.devhub import free_port
from hubdesk.jobs import HubStopSpec, JobStore, MembersSpec, StartSpec, StopSpec
from hubdesk.servers.stops import KIND, outcomes_of

SPECS = {"members": MembersSpec, "start": StartSpec, "stop": StopSpec, KIND: HubStopSpec}


def test_hubdesk_worker_takes_over_a_job_whose_worker_died(tmp_path):
    """The job runner alone (``hubdesk-worker``): it takes over a job nobody holds, runs it
    to the end, and stops cleanly on SIGTERM. (The hub is away here: each server says so.)"""
    db_url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    database = Database(db_url)
    database.upgrade()
    store = JobStore(database, specs=SPECS)
    job_id = store.create(
        KIND,
        "",
        by="admin",
        spec=HubStopSpec(servers=(("ana", ""), ("bob", "labs"))),
        scopes=["delete:servers"],
        items=[("0", ""), ("1", "")],
    )  # held by no one: as if its worker had died
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{free_port()}/hub/api",  # nobody there
        "JUPYTERHUB_API_TOKEN": "t" * 32,
        "HUBDESK_SECRET_KEY": "k" * 32,
        "HUBDESK_DB_URL": db_url,
        "HUBDESK_JOB_LEASE_SECONDS": "3",
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", "from hubdesk.cli import worker; raise SystemExit(worker())"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        job = wait_for(lambda: (found := store.get(job_id)).done and found, seconds=90)
    finally:
        worker.send_signal(signal.SIGTERM)
        out = worker.communicate(timeout=60)[0]
        database.dispose()
    assert worker.returncode == 0, out[-3000:]
    assert job.takeovers == 1, out[-3000:]
    said = [(o.user, o.result) for o in outcomes_of(job).outcomes]
    assert said == [("ana", "failed"), ("bob", "failed")]
    assert all("the hub did not answer" in o.why for o in outcomes_of(job).outcomes)
