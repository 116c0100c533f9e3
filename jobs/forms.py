from django import forms

from erpsync.forms import FullInput

PROJECT_NUMBER_MAX = 30
PROJECT_NAME_MAX = 200


class ProjectForm(FullInput, forms.Form):
    number = forms.CharField(
        label="Project number",
        max_length=PROJECT_NUMBER_MAX,
        help_text=f"At most {PROJECT_NUMBER_MAX} characters, unique in the company.",
    )
    name = forms.CharField(label="Project name", max_length=PROJECT_NAME_MAX)


class ProjectNameForm(FullInput, forms.Form):
    """The project's name on the job page: its job's name in the ERP."""

    name = forms.CharField(label="Project name", max_length=PROJECT_NAME_MAX)
