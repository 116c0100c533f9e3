from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "ERP Integrations"

    def ready(self) -> None:
        from approvals import listeners

        listeners.register()
