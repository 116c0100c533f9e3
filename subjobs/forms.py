from django import forms

from subjobs.models import SUB_JOB_CODE_MAX


class SubJobForm(forms.Form):
    code = forms.CharField(
        label="Sub Job ID",
        max_length=SUB_JOB_CODE_MAX,
        help_text=f"At most {SUB_JOB_CODE_MAX} characters, unique in the project.",
        # The browser would silently cut a longer paste; let the server say what is wrong.
        widget=forms.TextInput(attrs={"maxlength": None}),
    )
    name = forms.CharField(max_length=200)


class RenameForm(forms.Form):
    name = forms.CharField(max_length=200)
