# Charla: one image for the three processes (web, worker, beat); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

# gettext: compilemessages; curl-free health checks use Python.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# Static files are collected at build time (DEBUG=false uses the manifest storage);
# translations are compiled from the committed .po files.
RUN DEBUG=false SECRET_KEY=build-only python manage.py collectstatic --noinput -v 0 \
    && (find . -name '*.po' -print -quit | grep -q . && python manage.py compilemessages -v 0 || true) \
    && useradd --create-home --uid 10001 charla \
    && mkdir -p /app/var/media \
    && chown -R charla /app/var

USER charla
EXPOSE 8000
CMD ["sh", "-c", "uvicorn config.asgi:application --host 0.0.0.0 --port ${PORT} --ws websockets --ws-per-message-deflate false --lifespan off --proxy-headers --forwarded-allow-ips='*'"]
