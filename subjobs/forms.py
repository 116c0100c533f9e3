from django import forms

from erpsync.forms import FullInput
from subjobs.models import SUB_JOB_CODE_MAX, SUB_JOB_NAME_MAX

CODE_HELP = f"At most {SUB_JOB_CODE_MAX} characters, unique in the project (in any case)."


class SubJobForm(FullInput, forms.Form):
    code = forms.CharField(label="Sub Job ID", max_length=SUB_JOB_CODE_MAX, help_text=CODE_HELP)
    name = forms.CharField(max_length=SUB_JOB_NAME_MAX)


class EditForm(FullInput, forms.Form):
    """The inline editor of a sub job's row: its Sub Job ID and name. A blank Sub Job ID is
    refused by the model's own check ("Enter a Sub Job ID.")."""

    code = forms.CharField(
        label="Sub Job ID", max_length=SUB_JOB_CODE_MAX, help_text=CODE_HELP, required=False
    )
    name = forms.CharField(max_length=SUB_JOB_NAME_MAX)
