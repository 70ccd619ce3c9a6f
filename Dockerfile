# syntax=docker/dockerfile:1
# hubdesk: an admin dashboard for JupyterHub, run as a JupyterHub service.
#
#   docker build -t hubdesk .
#   docker run -p 8000:8000 \
#     -e JUPYTERHUB_API_URL=http://hub:8081/hub/api \
#     -e JUPYTERHUB_API_TOKEN=... -e HUBDESK_SECRET_KEY=... hubdesk
#
# Two stages: the first builds hubdesk's wheel (and pulls the build backend,
# hatchling, which the running image does not need); the second installs that
# wheel and its dependencies from PyPI, with no pip cache and no build tools.

FROM python:3.12-slim AS build

WORKDIR /src
# only what the wheel is made of (.dockerignore keeps the rest out too)
COPY pyproject.toml README.md LICENSE ./
COPY app ./app
COPY templates ./templates
COPY static ./static
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .


FROM python:3.12-slim

ARG HUBDESK_SOURCE_URL=""
LABEL org.opencontainers.image.title="hubdesk" \
      org.opencontainers.image.description="An admin dashboard for JupyterHub groups and named servers, run as a JupyterHub service." \
      org.opencontainers.image.source="${HUBDESK_SOURCE_URL}" \
      org.opencontainers.image.licenses="BSD-3-Clause"

ENV HUBDESK_BIND=0.0.0.0:8000 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The wheel is bind-mounted from the build stage, so no layer keeps a copy of it.
# [postgres]: the PostgreSQL driver, for replicas sharing a database (HUBDESK_DB_URL).
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir "$(echo /wheels/*.whl)[postgres]" \
    && groupadd --gid 1000 hubdesk \
    && useradd --uid 1000 --gid 1000 --create-home hubdesk

# numeric, so that Kubernetes' runAsNonRoot can check it is not root
USER 1000:1000
# a working directory with no app/ in it: gunicorn imports the installed package
WORKDIR /home/hubdesk
EXPOSE 8000

# /health answers 200 only when hubdesk is up and can reach the hub.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request; e=os.environ; port=e.get('HUBDESK_BIND','').rpartition(':')[2] or '8000'; p=e.get('JUPYTERHUB_SERVICE_PREFIX') or '/services/%s/' % (e.get('JUPYTERHUB_SERVICE_NAME') or 'hubdesk'); p=('/'+p.strip('/')+'/').replace('//','/'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}{p}health', timeout=8).status == 200 else 1)"]

CMD ["gunicorn", "-c", "python:app.gunicorn_conf", "app.wsgi:application"]
