# Lantai's image: `lantai run` on python:3.11-slim, as a non-root user (README "Production").
# compose.yaml builds it and mounts deploy/lantai at /etc/lantai (read-only) and a volume
# at /var/lib/lantai (the SQLite readings store and the InfluxDB spool).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/lantai
WORKDIR /src
# Only what the package needs: a source change does not invalidate more than this layer.
COPY pyproject.toml README.md ./
COPY sensors ./sensors
COPY collectors ./collectors
COPY rules ./rules
COPY alerts ./alerts
COPY inspections ./inspections
COPY console ./console
COPY dashboards ./dashboards
COPY lantai ./lantai
# The PostgreSQL driver is an extra (contracts: state.url postgresql+psycopg://...).
RUN /opt/lantai/bin/pip install '.[postgresql]'

FROM python:3.11-slim
ENV PATH=/opt/lantai/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# A fixed uid, so an admin can chown a bind-mounted data folder to it.
RUN groupadd --system --gid 10001 lantai \
    && useradd --system --uid 10001 --gid lantai --home-dir /var/lib/lantai --no-create-home lantai \
    && mkdir -p /var/lib/lantai /etc/lantai \
    && chown lantai:lantai /var/lib/lantai
COPY --from=build /opt/lantai /opt/lantai
USER lantai
WORKDIR /var/lib/lantai
VOLUME ["/var/lib/lantai"]
EXPOSE 8080
# /api/health answers anyone with the verdict only; it fails when the console does not answer.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import json, urllib.request as u; print(json.load(u.urlopen('http://127.0.0.1:8080/api/health', timeout=5))['status'])"]
CMD ["lantai", "run", "--config", "/etc/lantai/settings.yaml"]
