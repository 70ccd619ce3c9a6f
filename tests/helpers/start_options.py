"""The test hub's "Custom lab" profile (app/devhub/profiles.yaml): its option fields' names
and a free-text image, as hubdesk's start form names them; a start form's refused field."""

import html
import re

IMAGE = "profile-option-custom-lab--image"
MEMORY = "profile-option-custom-lab--memory"
TYPED = "quay.io/jupyter/r-notebook:2025-01-06"


def field_error(page: str, field: str) -> str:
    """The message beside the start form's refused field ``field`` (its id), once the field is
    checked to be marked: aria-invalid, is-invalid, the message in its aria-describedby,
    autofocus; and no other field marked."""
    tag = re.search(rf'<(?:input|select|textarea)\b[^>]*\sid="{re.escape(field)}"[^>]*>', page)
    assert tag, f"no field {field}"
    tag = tag.group(0)
    assert 'aria-invalid="true"' in tag and "is-invalid" in tag and " autofocus" in tag, tag
    described = re.search(r'aria-describedby="([^"]*)"', tag).group(1).split()
    assert f"{field}-error" in described, tag
    assert page.count('aria-invalid="true"') == 1, "one refused field at a time"
    message = re.search(
        rf'<div class="invalid-feedback[^"]*" id="{re.escape(field)}-error"[^>]*>(.*?)</div>',
        page,
        re.S,
    )
    assert message, f"no message beside {field}"
    return html.unescape(message.group(1))
