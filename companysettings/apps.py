from django.apps import AppConfig


class CompanySettingsConfig(AppConfig):
    name = "companysettings"
    verbose_name = "Company settings"
