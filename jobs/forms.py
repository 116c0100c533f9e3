from django import forms

from erpsync.forms import FullInput

PROJECT_NAME_MAX = 200


class ProjectNameForm(FullInput, forms.Form):
    """The project's name on the job page: its job's name in the ERP."""

    name = forms.CharField(label="Project name", max_length=PROJECT_NAME_MAX)
