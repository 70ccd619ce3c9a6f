"""What a start form asks for, shared by every area that starts servers (a user's page, a
group's roster, a lesson): the profiles offered, the options chosen, the display name, and
the profile in words.

Only the chosen profile's option fields are read (without JavaScript the form sends every
profile's); a profile not offered here (its ``hubdesk_groups``) is refused like an unknown one.
A refused value is a :class:`FieldError` naming its field: :func:`refusal` marks that field on
the form (``start_fields`` shows the message beside it), so the page says where, not only what.
"""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

from . import jsontext
from .access import can, require
from .extensions import hub_major, settings
from .jsontext import JSONTextError
from .names import SERVER_NAME_RULES, NamesError, check_server_name
from .profiles import UNLISTED, ChoiceError, Profile, default_profile

RAW = "__raw__"  # the profile choice "my own user_options"
RAW_LABEL = "My own user_options (JSON)"


class FieldError(NamesError):
    """A start form's value refused: ``field`` is the id (and name) of the field holding it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def refusal(form, error: NamesError) -> str:
    """Mark the field ``error`` names on ``form`` (``form.refused``: {field id: message}, read
    by ``start_fields``); what is left to say at the top of the page ("" when a field says it)."""
    field = getattr(error, "field", "")
    if not field:
        return str(error)
    form.refused = {field: str(error)}
    return ""


class StartForm(FlaskForm):
    server = StringField(
        "Server name", description=f"Empty for the default server; else {SERVER_NAME_RULES}."
    )
    profile = SelectField("Profile", choices=[], validate_choice=False)
    options = TextAreaField(
        "user_options (JSON), used only with “My own user_options”",
        description='For example {"profile": "small"}',
    )
    display_name = StringField(
        "Display name", description="Optional: how the hub names a named server (JupyterHub 6)."
    )


def catalogue() -> list[Profile]:
    """Every profile of the catalogue (``HUBDESK_PROFILES``)."""
    return list(settings().profiles)


def offered_profiles(groups) -> list[Profile]:
    """The profiles hubdesk offers to someone in ``groups`` (a profile's hubdesk_groups)."""
    return [p for p in catalogue() if p.offered_to(groups)]


def profile_choices(profiles, with_keep: bool = False):
    choices = [("", "Keep its previous options")] if with_keep else []
    choices += [(p.slug, p.display_name) for p in profiles]
    if not profiles:
        choices.append(("", "No profile (the spawner's defaults)"))
    if can("raw_user_options"):
        choices.append((RAW, RAW_LABEL))
    return choices


def option_field(profile: Profile, option_name: str) -> str:
    """A profile option's form field: named as in KubeSpawner's own form, one set per profile.

    A template global (the factory registers it)."""
    return f"profile-option-{profile.slug}--{option_name}"


def submitted_option_fields(profile: Profile | None) -> list[tuple[str, str]]:
    """The option fields of ``profile`` in this request: carried over by a confirmation page."""
    if profile is None:
        return []
    prefix = option_field(profile, "")
    return [(k, v) for k, v in request.form.items(multi=True) if k.startswith(prefix)]


def options_of(profile: Profile) -> dict:
    """The user_options for ``profile`` and what this request chose for its options."""
    chosen, typed = {}, {}
    for option in profile.options:
        name = option_field(profile, option.name)
        chosen[option.name] = request.form.get(name, "")
        typed[option.name] = request.form.get(f"{name}--{UNLISTED}", "")
    try:
        return profile.user_options_for(chosen, typed)
    except ChoiceError as e:
        field = option_field(profile, e.option) + (f"--{UNLISTED}" if e.typed else "")
        raise FieldError(field, f"{profile.display_name}, {e}") from None


def server_name(form) -> str:
    """The server name the form asks for ("" for the default server), checked."""
    name = (form.server.data or "").strip()
    try:
        return check_server_name(name, hub_major=hub_major()) if name else ""
    except NamesError as e:
        raise FieldError(form.server.id, str(e)) from None


def chosen_options(form, previous: dict | None, offered: list[Profile]):
    """The user_options to start with: a profile's and its choices, raw JSON, or the previous."""
    choice = form.profile.data or ""
    if choice == RAW:
        require("raw_user_options")
        field = form.options.id
        try:
            options = jsontext.loads(form.options.data or "{}")
        except JSONTextError as e:
            raise FieldError(field, f"The user_options are not valid JSON: {e}.") from None
        if not isinstance(options, dict):
            raise FieldError(
                field, 'The user_options must be a JSON object, like {"profile": "small"}.'
            )
        return options
    if choice:
        profile = next((p for p in offered if p.slug == choice), None)
        if profile is None:
            raise FieldError(form.profile.id, f"There is no profile “{choice}” on offer here.")
        return options_of(profile)
    if previous:
        return previous
    default = default_profile(offered)
    return options_of(default) if default else None


def display_name(form) -> str:
    """The display name to send: JupyterHub 6 has them (named servers only); 5.x has none."""
    return (form.display_name.data or "").strip()[:255] if hub_major() >= 6 else ""


def chosen_profile(form, offered: list[Profile]) -> Profile | None:
    """The offered profile the form chose (None: raw options, the defaults, or none)."""
    return next((p for p in offered if p.slug == form.profile.data), None)


def profile_words(profile: Profile | None, choices) -> str | None:
    """The profile and its chosen options in words, as job and lesson pages show them."""
    if profile is None:
        return None
    return profile.display_name + "".join(f", {o}: {c}" for o, c in choices)
