"""Home, status and health pages."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, g, jsonify, render_template, request, url_for

from . import permissions
from .auth import can, hub_version, person_client, require, service_client, service_scopes
from .groups import visible_groups
from .hub import HubError, HubUnreachable

bp = Blueprint("main", __name__)


@bp.route("/")
def home():
    person, hub = g.person, person_client()
    counts = []  # (number, one, many, link)
    if can("list_groups"):
        counts.append((len(visible_groups()), "group", "groups", url_for("groups.index")))
    if can("list_users"):
        counts.append((hub.count("users"), "user", "users", None))
        active = hub.count("users", params={"state": "active"})
        counts.append((active, "user with running servers", "users with running servers", None))
    abilities = []
    for name, action in permissions.ACTIONS.items():
        reach = permissions.reach(person.scopes, name, me=person.name)
        if reach is not None:
            abilities.append((action.words, reach))
    return render_template(
        "home.html",
        version=hub_version(),
        counts=counts,
        abilities=abilities,
    )


@bp.route("/status")
def status():
    require("admin_status")
    settings = current_app.config["HUBDESK"]
    service = service_client()
    start = time.perf_counter()
    version = service.version()
    latency_ms = (time.perf_counter() - start) * 1000
    identity = service.whoami()
    have = service_scopes()
    features = [
        (action, permissions.allowed(have, name))
        for name, action in permissions.ACTIONS.items()
        if action.service
    ]
    return render_template(
        "status.html",
        settings=settings,
        version=version,
        latency_ms=latency_ms,
        identity=identity,
        scopes=sorted(have),
        features=features,
    )


@bp.route("/activity")
def activity():
    """The audit trail's newest records, for admins, filtered by person, group or user."""
    require("admin_status")
    filters = {k: request.args.get(k, "")[:255].strip() for k in ("person", "group", "user")}
    return render_template(
        "activity.html",
        records=current_app.extensions["hubdesk.audit"].recent(limit=200, **filters),
        filters=filters,
        configured=bool(current_app.config["HUBDESK"].audit_file),
    )


@bp.route("/health/live")
def live():
    """For liveness probes: this process answers (the hub being down is no reason to restart it)."""
    return jsonify(status="ok")


@bp.route("/health")
def health():
    """For load balancers and Kubernetes probes: is the hub there? Nothing else."""
    try:
        service_client().version(timeout=(2, 5))
    except HubUnreachable:
        return jsonify(status="unavailable", hub="down"), 503
    except HubError:
        return jsonify(status="degraded", hub="error"), 503
    return jsonify(status="ok", hub="up")
