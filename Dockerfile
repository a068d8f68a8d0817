# digestbot: the daemon on the shipped config. State lives on the /app/data volume.
#   docker build -t digestbot .
#   docker run -d -e SLACK_BOT_TOKEN -v digestbot-data:/app/data digestbot
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 digestbot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY config ./config
RUN mkdir -p /app/data && chown digestbot:digestbot /app/data
USER digestbot
VOLUME ["/app/data"]
ENV DIGESTBOT_CONFIG=/app/config/bot.yaml \
    PYTHONUNBUFFERED=1
CMD ["digestbot", "run"]
