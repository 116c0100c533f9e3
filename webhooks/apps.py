from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Event webhooks"

    def ready(self) -> None:
        from webhooks import listeners

        listeners.register()
