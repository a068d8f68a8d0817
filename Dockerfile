# digestbot: the daemon. Config and state live on volumes; secrets come from the environment.
#   docker build -t digestbot .
#   docker run -d --name digestbot -e SLACK_BOT_TOKEN \
#     -v "$PWD/config:/app/config:ro" -v digestbot-data:/app/data digestbot
# Checked in CI with hadolint (`.ci/run`).

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
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-compile /wheels/*.whl && rm -rf /wheels
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
CMD ["digestbot", "run"]
