from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erpsync.settings")

app = Celery("erpsync")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_after_configure.connect
def _configure_transport(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    # An eager run must never reach for a broker; a broker run needs the visibility timeout
    # set explicitly, because Redis's one-hour default decides when lost tasks come back.
    if settings.CELERY_BROKER_URL is None:
        sender.conf.broker_url = "memory://"
    sender.conf.broker_transport_options = {
        "visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT
    }


app.autodiscover_tasks()
