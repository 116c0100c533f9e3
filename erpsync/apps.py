from django.apps import AppConfig


class ErpsyncConfig(AppConfig):
    name = "erpsync"
    verbose_name = "ERP sync"

    def ready(self) -> None:
        from erpsync import listeners

        listeners.register()
