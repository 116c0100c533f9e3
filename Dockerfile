# One image for the web app, the Celery worker and Celery beat (see docker-compose.yml).
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them. pyproject.toml lists no
# packages ([tool.setuptools] packages = []): `pip install .` installs the dependencies only
# and the code runs from /app.
COPY pyproject.toml README.md ./
RUN pip install . && rm -rf build *.egg-info

# The code, directory by directory (no .venv, var/ or .git from a developer's checkout).
COPY manage.py ./
COPY erpsync ./erpsync
COPY projects ./projects
COPY subjobs ./subjobs
COPY jobs ./jobs
COPY invoicing ./invoicing
COPY approvals ./approvals
COPY accounts ./accounts
COPY companysettings ./companysettings
COPY api ./api
COPY webhooks ./webhooks
COPY templates ./templates
COPY static ./static

# Run as an unprivileged user; var/ holds collected static files (STATIC_ROOT).
RUN useradd --create-home --uid 10001 erpsync \
    && mkdir -p /app/var \
    && chown erpsync:erpsync /app/var
USER erpsync

EXPOSE 8000

CMD ["gunicorn", "erpsync.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
