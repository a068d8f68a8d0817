# digestbot: the daemon. Config and state live on volumes; secrets come from the environment.
#   docker build -t digestbot .          (BuildKit: the default builder since Docker 23)
#   docker run -d --name digestbot -e SLACK_BOT_TOKEN \
#     -v "$PWD/config:/app/config:ro" -v digestbot-data:/app/data digestbot
# Checked in CI with hadolint, then built and run by .ci/docker-check (`.ci/run`).
# The build context is an allow-list (.dockerignore): no .git, no local venvs, no state.

# ---- build: wheels of digestbot and its dependencies (binary wheels: no compiler needed) ----
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# ---- run: the slim image with the wheels installed, nothing else --------------------------
FROM python:3.11-slim-bookworm
# A fixed numeric uid/gid, so a host folder mounted on /app/data can be chowned to match.
RUN groupadd --gid 10001 digestbot \
    && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin digestbot
# The wheels are bind-mounted from the build stage for this one step, so no layer keeps them.
# The bytecode is compiled here, of the packages and of the standard library (the official
# python images ship it without): the runtime user cannot write __pycache__ (and
# PYTHONDONTWRITEBYTECODE is set), so otherwise every `digestbot health` (the HEALTHCHECK, every
# 5 minutes) and every start compiled its imports again, 2-3x slower. Not the test suites that
# packages ship (scipy's: a large part of the bytecode, never imported here); and
# unchecked-hash, as the image is immutable: no source file is stat'ed or hashed at import.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --no-compile /wheels/*.whl \
    && python -m compileall -q -j 0 -x '/tests?/' --invalidation-mode unchecked-hash \
        "$(python -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')" \
        "$(python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
WORKDIR /app
# The shipped config is the default; mount your own folder on /app/config (read-only is fine).
COPY config ./config
RUN mkdir -p /app/data && chown 10001:10001 /app/data
USER 10001:10001
VOLUME ["/app/config", "/app/data"]
ENV DIGESTBOT_CONFIG=/app/config/bot.yaml \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Healthy while the heartbeat (rewritten after every good run) is not older than the last
# scheduled run plus an hour; see "Operating it" in the README.
HEALTHCHECK --interval=5m --timeout=30s --start-period=2m --retries=1 \
    CMD ["digestbot", "health"]
# `docker stop` sends SIGTERM: the daemon finishes its current step and exits 0.
STOPSIGNAL SIGTERM
# The image is the CLI: `docker run --rm digestbot check` (or --help, status...); no arguments
# run the daemon.
ENTRYPOINT ["digestbot"]
CMD ["run"]
