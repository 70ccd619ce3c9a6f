"""The profile catalogue: what "start a server with a profile" offers, read as KubeSpawner reads it.

No hub API lists a spawner's profiles (KubeSpawner's ``profile_list`` lives in the hub's
config), so the deployment gives hubdesk a file, YAML or JSON, named by ``HUBDESK_PROFILES``:

- a copy of a ``profile_list``: a list of profiles, or a mapping of them (KubeSpawner then
  takes the values in the order of their keys; the key is not the slug);
- the same list under a top-level ``profiles:`` key (hubdesk's older form);
- a zero-to-jupyterhub values file: its ``singleuser.profileList`` is read.

Every profile is read as KubeSpawner 7.1's ``load_user_options()`` reads it, so that what
hubdesk sends is what the spawner accepts: the slug is the ``slug`` key or else python-slugify's
``slugify(display_name)`` (the same library KubeSpawner calls, so "Café Lab" is ``cafe-lab``
in both); with no ``default``, the first profile and each option's first choice are the
defaults; ``profile_options`` offer ``choices`` and an ``unlisted_choice`` (free text checked
against ``validation_regex`` with ``re.match``, as the spawner checks it). Keys only the spawner
uses (``kubespawner_override``) are ignored. Two keys are hubdesk's own: ``hubdesk_groups``
(offer the profile only to members of those groups: the spawner does not know it, so it does
not enforce it) and ``user_options`` (send exactly these instead of ``{"profile": slug}``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from slugify import slugify

UNLISTED = "unlisted-choice"  # the choice value KubeSpawner's form sends for free text
Z2JH_KEY = "singleuser.profileList"


class ProfileError(ValueError):
    """The catalogue cannot be used; the message says where and why."""


class ChoiceError(ValueError):
    """What a person chose cannot be sent: the message says so in words.

    ``option`` names the option refused; ``typed`` says whether its free text (not its list of
    choices) holds the refused value, so that a form can mark the field that holds it."""

    def __init__(self, message: str, *, option: str = "", typed: bool = False):
        super().__init__(message)
        self.option = option
        self.typed = typed


@dataclass(frozen=True)
class Choice:
    slug: str
    display_name: str


@dataclass(frozen=True)
class UnlistedChoice:
    """A profile option's free text: KubeSpawner's ``unlisted_choice`` when enabled."""

    display_name: str
    display_name_in_choices: str
    validation_regex: str = ""
    validation_message: str = ""

    def problem(self, value: str) -> str | None:
        """Why ``value`` would be refused by the spawner (``re.match``, as it checks), if so."""
        if self.validation_regex and not re.match(self.validation_regex, value):
            return self.validation_message or f"“{value}” is not an accepted value"
        return None


@dataclass(frozen=True)
class Option:
    """One of a profile's ``profile_options``; ``choices`` in catalogue order."""

    name: str
    display_name: str
    choices: tuple[Choice, ...] = ()
    default: str = ""  # the slug of the default choice ("" when there are no choices)
    unlisted: UnlistedChoice | None = None

    def choice(self, slug: str) -> Choice | None:
        return next((c for c in self.choices if c.slug == slug), None)

    def refused(self, why: str, *, typed: bool) -> ChoiceError:
        """Why a value of this option is refused; ``typed``: its free text holds the value."""
        return ChoiceError(f"{self.display_name}: {why}", option=self.name, typed=typed)


@dataclass(frozen=True)
class Profile:
    slug: str
    display_name: str
    description: str = ""
    user_options: dict = field(default_factory=dict)
    default: bool = False
    options: tuple[Option, ...] = ()
    groups: tuple[str, ...] = ()  # hubdesk_groups: offered only to their members (when set)

    def offered_to(self, groups) -> bool:
        """Whether hubdesk offers this profile to someone in ``groups`` (hubdesk alone checks)."""
        return not self.groups or not set(self.groups).isdisjoint(groups)

    def user_options_for(self, chosen: dict[str, str], typed: dict[str, str]) -> dict:
        """The user_options KubeSpawner's own form would send for these choices.

        ``chosen`` maps an option to a choice slug (or ``UNLISTED``), ``typed`` to free text.
        An option left out gets its default choice, sent explicitly as the form does. Raises
        ``ChoiceError`` for anything the spawner would refuse at spawn time.
        """
        options = dict(self.user_options)
        for option in self.options:
            value = chosen.get(option.name) or option.default or UNLISTED  # no choices: free text
            text = (typed.get(option.name) or "").strip()
            if value != UNLISTED:
                if option.choice(value) is None:
                    raise option.refused(f"there is no choice “{value}”.", typed=False)
                if text and option.unlisted is not None:
                    # without JavaScript both fields are sent: which one was meant is unclear
                    other = option.unlisted.display_name_in_choices
                    raise option.refused(
                        "a value was typed but a listed choice is chosen; choose "
                        f"“{other}” to use the typed value, or clear it.",
                        typed=True,
                    )
                options[option.name] = value
                continue
            if option.unlisted is None:
                raise option.refused("it takes no free text.", typed=False)
            if not text:
                raise option.refused("type a value, or choose one listed.", typed=True)
            problem = option.unlisted.problem(text)
            if problem:
                raise option.refused(problem, typed=True)
            options[option.name] = UNLISTED
            options[f"{option.name}--{UNLISTED}"] = text
        return options

    def chosen_labels(self, user_options: dict) -> list[tuple[str, str]]:
        """(option, choice) display names of what ``user_options`` chose, free text as typed."""
        labels = []
        for option in self.options:
            typed = user_options.get(f"{option.name}--{UNLISTED}")
            if typed:
                labels.append((option.display_name, str(typed)))
                continue
            choice = option.choice(str(user_options.get(option.name) or option.default))
            if choice is not None:
                labels.append((option.display_name, choice.display_name))
        return labels


def _text(value, where: str, key: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ProfileError(f"{where}, key {key}: must be {'non-empty ' if required else ''}text")
    return value.strip()


def _mapping(value, where: str, key: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ProfileError(f"{where}, key {key}: must be a mapping keyed by name")
    return value


def _unlisted(data, where: str, key: str) -> UnlistedChoice | None:
    data = _mapping(data, where, key)
    if not data.get("enabled"):
        return None
    regex = _text(data.get("validation_regex"), where, f"{key}.validation_regex")
    if regex:
        try:
            re.compile(regex)
        except re.error as e:
            raise ProfileError(
                f"{where}, key {key}.validation_regex: not a regular expression ({e})"
            ) from None
    return UnlistedChoice(
        display_name=_text(data.get("display_name"), where, f"{key}.display_name") or "Other",
        display_name_in_choices=_text(
            data.get("display_name_in_choices"), where, f"{key}.display_name_in_choices"
        )
        or "Other...",  # KubeSpawner's default
        validation_regex=regex,
        validation_message=_text(
            data.get("validation_message"), where, f"{key}.validation_message"
        ),
    )


def _option(name: str, data, where: str) -> Option:
    key = f"profile_options.{name}"
    data = _mapping(data, where, key)
    choices, default = [], ""
    for slug, choice in _mapping(data.get("choices"), where, f"{key}.choices").items():
        choice = _mapping(choice, where, f"{key}.choices.{slug}")
        label = _text(choice.get("display_name"), where, f"{key}.choices.{slug}.display_name")
        choices.append(Choice(slug, label or slug))
        if choice.get("default") and not default:
            default = slug
    if choices and not default:
        default = choices[0].slug  # KubeSpawner: the first choice when none says default
    unlisted = _unlisted(data.get("unlisted_choice"), where, f"{key}.unlisted_choice")
    if not choices and unlisted is None:
        # KubeSpawner cannot find a default for it and refuses every spawn of the profile
        raise ProfileError(f"{where}, key {key}: has no choices and no enabled unlisted_choice")
    label = _text(data.get("display_name"), where, f"{key}.display_name") or name
    return Option(name, label, tuple(choices), default, unlisted)


def _profile(item, where: str) -> Profile:
    if not isinstance(item, dict):
        raise ProfileError(f"{where}: expected a mapping with at least display_name or slug")
    name = item.get("display_name") or item.get("slug")
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(f"{where}: needs a display_name or a slug")
    where = f"{where} “{name.strip()}”"
    if "slug" in item:  # KubeSpawner takes a given slug as it is
        slug = _text(item["slug"], where, "slug", required=True)
    else:
        slug = slugify(name)
        if not slug:
            raise ProfileError(f"{where}, key slug: its display_name gives no slug; give one")
    options = item.get("user_options", {"profile": slug})
    if not isinstance(options, dict):
        raise ProfileError(f"{where}, key user_options: user_options must be a mapping")
    groups = item.get("hubdesk_groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise ProfileError(f"{where}, key hubdesk_groups: must be a list of group names")
    return Profile(
        slug=slug,
        display_name=name.strip(),
        description=str(item.get("description") or "").strip(),
        user_options=options,
        default=bool(item.get("default")),
        options=tuple(
            _option(n, o, where)
            for n, o in _mapping(item.get("profile_options"), where, "profile_options").items()
        ),
        groups=tuple(groups),
    )


def _profile_list(data, source: str) -> tuple[object, str]:
    """The profile_list inside loaded data, and where it was found (for messages)."""
    if isinstance(data, dict) and "singleuser" in data:
        singleuser = data.get("singleuser") or {}
        found = singleuser.get("profileList") if isinstance(singleuser, dict) else None
        return found, f"{source}, key {Z2JH_KEY}"
    if isinstance(data, dict) and set(data) == {"profiles"}:
        if data["profiles"] is not None and not isinstance(data["profiles"], list):
            raise ProfileError(f"{source}, key profiles: expected a list of profiles")
        return data["profiles"], source
    return data, source


def parse(data, *, source: str = "the profile catalogue") -> list[Profile]:
    """Profiles from already-loaded YAML/JSON data."""
    data, source = _profile_list(data, source)
    if not data:
        return []
    if isinstance(data, dict):
        if not all(isinstance(k, str) for k in data):
            raise ProfileError(f"{source}: the keys of a mapping of profiles must be text")
        # KubeSpawner's _sorted_dict_values: the values, in the order of their keys
        items = [(f"profile {k!r}", data[k]) for k in sorted(data)]
    elif isinstance(data, list):
        items = [(f"profile {i}", item) for i, item in enumerate(data, start=1)]
    else:
        raise ProfileError(f"{source}: expected a list of profiles, or a mapping of them")
    profiles, seen = [], set()
    for label, item in items:
        profile = _profile(item, f"{source}, {label}")
        if profile.slug in seen:
            raise ProfileError(f"{source}, {label}, key slug: “{profile.slug}” is used twice")
        seen.add(profile.slug)
        profiles.append(profile)
    return profiles


def source_of(data, path: str) -> str:
    """Which part of a catalogue file hubdesk reads: said in the log and on the status page."""
    return _profile_list(data, str(path))[1]


def _read(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: cannot read it ({e})") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        reason = str(e).replace("\n", " ")
        raise ProfileError(f"{path}: not valid {kind} ({reason})") from None


def load_with_source(path: str | Path) -> tuple[list[Profile], str]:
    """A catalogue file's profiles, and which part of it they came from."""
    data = _read(Path(path))
    return parse(data, source=str(path)), source_of(data, str(path))


def default_profile(profiles) -> Profile | None:
    """KubeSpawner's default: the first profile that says so, else the first one."""
    profiles = list(profiles)
    return next((p for p in profiles if p.default), profiles[0] if profiles else None)


def profile_for(profiles: list[Profile], user_options: dict | None) -> Profile | None:
    """Which catalogue profile a server's ``user_options`` came from, if any."""
    if not user_options:
        return None
    for profile in profiles:
        if profile.user_options == user_options:
            return profile
    slug = user_options.get("profile")
    return next((p for p in profiles if p.slug == slug), None)
