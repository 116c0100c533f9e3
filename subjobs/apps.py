from django.apps import AppConfig


class SubjobsConfig(AppConfig):
    name = "subjobs"
    verbose_name = "Sub jobs"
