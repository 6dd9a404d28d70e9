# The responder as a small, unprivileged, read-only container (see docs/deploy.md).
#
# Two stages: the build stage installs the package and its dependencies into a virtual
# environment; the runtime stage copies only that environment, so no compiler, pip cache or
# source tree ships. The base is pinned by version; pin it by digest too where you build
# (`docker buildx imagetools inspect python:3.11.11-slim-bookworm`), or pass a local base with
# --build-arg PYTHON_IMAGE=... where no registry is reachable (the CI does).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/responder
COPY pyproject.toml README.md ./
COPY responder ./responder
# Unset, pip uses PyPI. Behind a package mirror or a TLS-intercepting proxy whose CA the base
# image does not trust, point pip elsewhere at build time, e.g.
#   --network host --build-arg PIP_INDEX_URL=http://127.0.0.1:3141/simple/
# It stays in the build stage, out of the runtime image; never put a password in it.
ARG PIP_INDEX_URL
# Bytecode is compiled now: at run time the root filesystem is read-only.
RUN /opt/responder/bin/pip install --no-compile . \
    && /opt/responder/bin/python -m compileall -q /opt/responder/lib

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="responder" \
      org.opencontainers.image.description="Contains Docker containers on Falco and Alertmanager alerts, with playbooks, dry-runs, release and reports." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://example.invalid/responder" \
      io.responder.security.user="1001" \
      io.responder.security.read-only-rootfs="true"
# A fixed, unprivileged user: UID and GID 1001, no login shell, no home outside the data dir.
RUN groupadd --system --gid 1001 responder \
    && useradd --system --uid 1001 --gid 1001 --no-create-home \
       --home-dir /var/lib/responder --shell /usr/sbin/nologin responder \
    && install -d -o 1001 -g 1001 -m 0700 /var/lib/responder
COPY --from=build /opt/responder /opt/responder
COPY playbooks /etc/responder/playbooks
COPY rules /usr/share/responder/rules
ENV PATH=/opt/responder/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RESPONDER_HOST=0.0.0.0 \
    RESPONDER_PORT=8470 \
    RESPONDER_DATA_DIR=/var/lib/responder \
    RESPONDER_PLAYBOOKS=/etc/responder/playbooks
WORKDIR /var/lib/responder
USER 1001:1001
EXPOSE 8470
# Readiness, not liveness: healthy only while the journal is writable, the Docker engine
# answers and the playbooks are loaded (a 503 ends the check with HTTPError, exit 1). /readyz
# needs no credential; Python's own urllib, so the image needs no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8470/readyz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["responder"]
CMD ["serve"]
