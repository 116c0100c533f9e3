# The Celery app must load with Django, or `.delay()` silently targets amqp://localhost.
from erpsync.celery import app as celery_app

__all__ = ("celery_app",)
