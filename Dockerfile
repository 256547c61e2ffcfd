# One image for both of the app's Carol processes (manifest.json): the batch run (run.py) by default, the online
# app with PROCESS_TYPE=online. `docker build -t bostonhouse .`; README "Docker" has the `docker run` lines.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Every package pinned, transitive ones too (requirements.lock, `make lock`): the same commit, the same image.
COPY requirements.txt requirements.lock ./
RUN pip install -c requirements.lock pip \
    && pip install -r requirements.txt -c requirements.lock

# The data folders exist in the image, owned by the app's user, so a new named volume mounted there is too.
RUN useradd --create-home --uid 10001 app \
    && mkdir -p /app/luigi_targets /app/models \
    && chown 10001:10001 /app /app/luigi_targets /app/models
COPY --chown=10001:10001 . .
USER 10001

# Carol sends the online process's requests to this port (manifest.json: port, healthcheck.path).
EXPOSE 5000
CMD ["python", "start.py"]
