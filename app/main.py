"""Home, status and health pages."""

from __future__ import annotations

import time

from flask import Blueprint, g, jsonify, render_template, request

from . import activity_csv, audit_words, compat, permissions
from . import home as home_parts
from .access import can, require
from .audit_words import say
from .db import StateUnavailable
from .downloads import csv_response, filename
from .extensions import audit_trail, database, hub_version, service_client, service_scopes, settings
from .hub import HubError, HubUnreachable
from .paging import int_arg

bp = Blueprint("main", __name__)


@bp.route("/")
def home():
    """What the person can do next, from their own scopes (:mod:`hubdesk.home`), and below,
    folded, everything their scopes let them do here."""
    person = g.person
    groups, groups_total = home_parts.my_groups()
    abilities = []
    for name, action in permissions.ACTIONS.items():
        reach = permissions.reach(person.scopes, name, me=person.name, admin=person.admin)
        if reach is not None:
            abilities.append((action.words, reach))
    return render_template(
        "home.html",
        version=hub_version(),
        counts=home_parts.counts(),
        groups=groups,
        groups_total=groups_total,
        failed=home_parts.failed_servers(),
        under_way=home_parts.under_way(),
        search_first=can("list_users") and not groups and not can("edit_members"),
        abilities=abilities,
    )


@bp.route("/status")
def status():
    require("admin_status")
    service = service_client()
    start = time.perf_counter()
    version = service.version()
    latency_ms = (time.perf_counter() - start) * 1000
    # said before anything that needs the token: on such a hub with a 64-character token,
    # nobody gets this far (sign-in fails too), but health says the same
    hub_problem = compat.token_problem(version, len(settings().api_token))
    identity = service.whoami()
    have = service_scopes()
    features = [
        (action, permissions.allowed(have, name))
        for name, action in permissions.ACTIONS.items()
        if action.service
    ]
    return render_template(
        "status.html",
        settings=settings(),
        database=database(),
        version=version,
        hub_problem=hub_problem,
        latency_ms=latency_ms,
        identity=identity,
        scopes=sorted(have),
        features=features,
    )


@bp.route("/activity")
def activity():
    """The audit trail, newest first, a page at a time, filtered by person, group, user or
    action (its code), each record said in words (:mod:`hubdesk.audit_words`).

    Filters match whole names, through indexes: a page costs the same whatever the history.
    The records name users, groups and servers anywhere on the hub, so the page needs what
    reading all of them needs on the hub (``read_activity``), not ``admin-ui`` alone.
    """
    require("read_activity")
    filters = activity_filters()
    before = int_arg("before", 0) or None
    records, older = audit_trail().page(before=before, **filters)
    return render_template(
        "activity.html",
        entries=[(r, say(r.action, r.target, r.hub)) for r in records],
        actions=audit_words.ACTIONS,
        filters=filters,
        csv_args={k: v for k, v in filters.items() if v},  # the download keeps the filter
        older=older,
        first_page=before is None,
        keep_days=settings().audit_keep_days,
    )


@bp.route("/activity.csv")
def activity_download():
    """Every audit record the Activity page's filter matches (all its pages), as a CSV."""
    require("read_activity")
    filters = activity_filters()
    name = filename("activity", *(f"{k}-{v}" for k, v in filters.items() if v))
    return csv_response(name, activity_csv.header(), activity_csv.rows(audit_trail(), filters))


def activity_filters() -> dict[str, str]:
    """The Activity page's filter, from its address: whole names, and an action's code."""
    filters = {k: request.args.get(k, "")[:255].strip() for k in ("person", "group", "user")}
    filters["action"] = request.args.get("action", "")[:64].strip()
    return filters


@bp.route("/health/live")
def live():
    """For liveness probes: this process answers (the hub being down is no reason to restart it)."""
    return jsonify(status="ok")


@bp.route("/health")
def health():
    """For load balancers and Kubernetes probes: are the hub and hubdesk's database there?

    One call to the hub, without a token (its version): a release known to refuse tokens
    like hubdesk's is said from that answer (``hub_problem``), at no extra cost.
    """
    answer, ok = {}, True
    try:
        database().ping()
        answer["database"] = "up"
        if database().write_problem:  # it answers, but the last write failed (a full disk)
            answer["database"], ok = "failing", False
            answer["database_problem"] = database().write_problem
    except StateUnavailable as e:
        answer["database"], answer["database_problem"], ok = "down", e.reason, False
    try:
        version = service_client().version(timeout=(2, 5))
        answer["hub"] = "up"
        token_length = len(settings().api_token)
        problem = compat.token_problem(version, token_length)
        if problem:
            answer["hub_problem"] = problem
            # up, but refusing hubdesk's own token: nothing would work, so not ready
            ok = ok and not compat.refuses_own_token(version, token_length)
    except HubUnreachable:
        answer["hub"], ok = "down", False
    except HubError:
        answer["hub"], ok = "error", False
    if ok:
        return jsonify(status="ok", **answer)
    status = "unavailable" if "down" in answer.values() else "degraded"
    return jsonify(status=status, **answer), 503
