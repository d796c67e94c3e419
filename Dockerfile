# The sitaware image: the `sitaware` CLI (worker, simulate, topics, migrate, ...).
# Built by `docker compose build`; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs: no .git, no .env, no local stack state in the image.
WORKDIR /opt/sitaware
COPY pyproject.toml ./
COPY sitaware ./sitaware
COPY streams ./streams
COPY topics ./topics
COPY sinks ./sinks
COPY deploy ./deploy

# Editable install (`pip install -e .` rather than `pip install .`): sitaware.settings
# locates deploy/ (ClickHouse migrations, templates) next to the package directory, and
# a regular install into site-packages would leave deploy/ behind. Every dependency has
# a manylinux wheel, so no compiler is needed. Byte-compiled here because the runtime
# user cannot write to /opt/sitaware.
# The api-tokens directory is the mount point of compose's api-tokens volume: made here,
# owned by the runtime user, so the new volume takes that owner (Docker copies it) and
# `sitaware api token` can write the tokens file into it.
RUN pip install --no-cache-dir -e . \
 && python -m compileall -q sitaware streams topics sinks \
 && useradd --system --uid 10001 --user-group --no-log-init \
      --home-dir /var/lib/sitaware --create-home --shell /usr/sbin/nologin sitaware \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/sitaware/api-tokens

# Non-root. The working directory is writable: Faust keeps its table state
# (<app>-data/) there and the simulator its ground-truth file.
USER 10001:10001
WORKDIR /var/lib/sitaware

# Worker metrics (/metrics) and health (/health); the API and map page.
EXPOSE 6066 6080

ENTRYPOINT ["sitaware"]
CMD ["--help"]
