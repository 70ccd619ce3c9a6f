# hubdesk: an admin dashboard for JupyterHub, run as a JupyterHub service.
#
#   docker build -t hubdesk .
#   docker volume create hubdesk-state
#   docker run -p 8000:8000 -v hubdesk-state:/var/lib/hubdesk \
#     -e JUPYTERHUB_API_URL=http://hub:8081/hub/api \
#     -e JUPYTERHUB_API_TOKEN=... -e HUBDESK_SECRET_KEY=... hubdesk
#
# Any builder builds it: the classic one (DOCKER_BUILDKIT=0), BuildKit, buildah, kaniko.
# No `# syntax=` line (BuildKit would fetch that frontend image from a registry, which an
# air-gapped build host cannot reach) and no BuildKit-only instruction (RUN --mount).
#
# Two stages: the first builds hubdesk's wheel (pulling the build backend, setuptools)
# and installs it with its dependencies into a virtual environment; the second copies
# that environment alone, so that no layer of the image holds the wheel, a pip cache or
# the build backend.

FROM python:3.12-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# only what the wheel is made of (.dockerignore keeps the rest out too)
COPY pyproject.toml README.md LICENSE ./
COPY app ./app
COPY templates ./templates
COPY static ./static
# [postgres]: the PostgreSQL driver, for replicas sharing a database (HUBDESK_DB_URL).
# The same base image in both stages: the environment's python is /usr/local/bin's in each.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/hubdesk \
    && /opt/hubdesk/bin/pip install --no-cache-dir "$(echo /wheels/*.whl)[postgres]"


FROM python:3.12-slim

ARG HUBDESK_SOURCE_URL=""
LABEL org.opencontainers.image.title="hubdesk" \
      org.opencontainers.image.description="An admin dashboard for JupyterHub groups and named servers, run as a JupyterHub service." \
      org.opencontainers.image.source="${HUBDESK_SOURCE_URL}" \
      org.opencontainers.image.licenses="BSD-3-Clause"

# HUBDESK_STATE_DIR: where hubdesk keeps its SQLite database (hubdesk.sqlite) unless
# HUBDESK_DB_URL names another. Mount a volume there (see the README, "With Docker"):
# without one the database lives in the container and goes with `docker rm`.
ENV PATH=/opt/hubdesk/bin:$PATH \
    HUBDESK_BIND=0.0.0.0:8000 \
    HUBDESK_STATE_DIR=/var/lib/hubdesk \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The user, and the state directory it owns: a new named volume mounted there starts as a
# copy of it (owner included), so uid 1000 may write to it. Before the COPY below, so that
# a new hubdesk reuses this layer.
RUN groupadd --gid 1000 hubdesk \
    && useradd --uid 1000 --gid 1000 --create-home hubdesk \
    && mkdir -p /var/lib/hubdesk \
    && chown 1000:1000 /var/lib/hubdesk

COPY --from=build /opt/hubdesk /opt/hubdesk

# numeric, so that Kubernetes' runAsNonRoot can check it is not root. Mounted secret
# files (HUBDESK_*_FILE) must be readable by this uid or gid: a root-only (0600) file
# stops hubdesk at start with one line naming it.
USER 1000:1000
# a working directory with no app/ in it: gunicorn imports the installed package
WORKDIR /home/hubdesk
EXPOSE 8000

# /health answers 200 only when hubdesk is up and can reach the hub.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request; e=os.environ; port=e.get('HUBDESK_BIND','').rpartition(':')[2] or '8000'; p=e.get('JUPYTERHUB_SERVICE_PREFIX') or '/services/%s/' % (e.get('JUPYTERHUB_SERVICE_NAME') or 'hubdesk'); p=('/'+p.strip('/')+'/').replace('//','/'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}{p}health', timeout=8).status == 200 else 1)"]

CMD ["gunicorn", "-c", "python:hubdesk.gunicorn_conf", "hubdesk.wsgi:application"]
