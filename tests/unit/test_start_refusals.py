"""A refused start names the field that holds the refused value (no hub: a request context)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hubdesk import create_app
from hubdesk.names import NamesError
from hubdesk.profiles import parse
from hubdesk.start_options import FieldError, chosen_options, refusal

CONFIG = {
    "JUPYTERHUB_API_URL": "http://hub:8081/hub/api",
    "JUPYTERHUB_API_TOKEN": "t" * 32,
    "HUBDESK_SECRET_KEY": "k" * 64,
}
LAB = {
    "display_name": "Custom lab",
    "description": "Choose the image.",
    "profile_options": {
        "image": {
            "display_name": "Image",
            "choices": {"minimal": {"display_name": "Minimal"}},
            "unlisted_choice": {"enabled": True, "validation_regex": "^[a-z]+:[0-9]+$"},
        },
    },
}
IMAGE = "profile-option-custom-lab--image"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(dict(CONFIG, HUBDESK_STATE_DIR=str(tmp_path_factory.mktemp("state"))))


def start_form(profile: str):
    """What chosen_options reads of a start form: the profile field, and the options field."""
    field = SimpleNamespace(id="profile", data=profile)
    return SimpleNamespace(profile=field, options=SimpleNamespace(id="options", data=""))


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        ({"profile": "custom-lab", IMAGE: "latest"}, IMAGE, "Custom lab, Image: there is no"),
        ({IMAGE: "unlisted-choice"}, f"{IMAGE}--unlisted-choice", "type a value"),
        (
            {IMAGE: "unlisted-choice", f"{IMAGE}--unlisted-choice": "x"},
            f"{IMAGE}--unlisted-choice",
            "not an accepted value",
        ),
        ({"profile": "gpu"}, "profile", "There is no profile “gpu” on offer here."),
    ],
)
def test_the_refused_field_is_named_and_marked(app, form, field, words):
    offered = parse([LAB])
    with app.test_request_context("/", method="POST", data=form):
        form_ = start_form(form.get("profile", "custom-lab"))
        with pytest.raises(FieldError) as caught:
            chosen_options(form_, None, offered)
    assert caught.value.field == field and words in str(caught.value)
    assert isinstance(caught.value, NamesError)  # every caller that catches NamesError still does
    assert refusal(form_, caught.value) == ""  # said beside the field, not at the top
    assert form_.refused == {field: str(caught.value)}


def test_an_error_of_no_field_stays_at_the_top():
    form = start_form("")
    assert refusal(form, NamesError("This group has no members.")) == "This group has no members."
    assert not hasattr(form, "refused")
