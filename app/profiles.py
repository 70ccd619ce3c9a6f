"""The profile catalogue: what "start a server with a profile" offers.

No hub API lists a spawner's profiles (KubeSpawner's ``profile_list`` lives in
the hub's config), so the deployment gives hubdesk a file, YAML or JSON, named
by ``HUBDESK_PROFILES``. It can be a copy of a ``profile_list``::

    - slug: small
      display_name: Small (1 CPU, 2 GB)
      description: For exercises.
      default: true
    - slug: gpu
      display_name: GPU
      user_options: {profile: gpu, image: "lab:2026"}   # default: {profile: <slug>}

(or the same list under a top-level ``profiles:`` key). Keys hubdesk does not
use, such as ``kubespawner_override``, are ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ProfileError(ValueError):
    """The catalogue cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Profile:
    slug: str
    display_name: str
    description: str = ""
    user_options: dict = field(default_factory=dict)
    default: bool = False


def _slugify(text: str) -> str:
    # what KubeSpawner does when a profile has no slug
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse(data, *, source: str = "the profile catalogue") -> list[Profile]:
    """Profiles from already-loaded YAML/JSON data."""
    if isinstance(data, dict):
        data = data.get("profiles")
    if data is None:
        return []
    if not isinstance(data, list):
        raise ProfileError(f"{source}: expected a list of profiles")
    profiles, seen = [], set()
    for i, item in enumerate(data, start=1):
        where = f"{source}, profile {i}"
        if not isinstance(item, dict):
            raise ProfileError(f"{where}: expected a mapping with at least display_name or slug")
        name = item.get("display_name") or item.get("slug")
        if not isinstance(name, str) or not name.strip():
            raise ProfileError(f"{where}: needs a display_name or a slug")
        slug = item.get("slug") or _slugify(name)
        if not isinstance(slug, str) or not slug:
            raise ProfileError(f"{where}: its slug must be text")
        if slug in seen:
            raise ProfileError(f"{where}: the slug “{slug}” is used twice")
        seen.add(slug)
        options = item.get("user_options", {"profile": slug})
        if not isinstance(options, dict):
            raise ProfileError(f"{where}: user_options must be a mapping")
        description = item.get("description") or ""
        profiles.append(
            Profile(
                slug=slug,
                display_name=name.strip(),
                description=str(description).strip(),
                user_options=options,
                default=bool(item.get("default")),
            )
        )
    return profiles


def load(path: str | Path) -> list[Profile]:
    """Read a catalogue file (``.json``, else YAML, which JSON also is)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: cannot read it ({e})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        reason = str(e).replace("\n", " ")
        raise ProfileError(f"{path}: not valid {kind} ({reason})") from None
    return parse(data, source=str(path))


def profile_for(profiles: list[Profile], user_options: dict | None) -> Profile | None:
    """Which catalogue profile a server's ``user_options`` came from, if any."""
    if not user_options:
        return None
    for profile in profiles:
        if profile.user_options == user_options:
            return profile
    slug = user_options.get("profile")
    return next((p for p in profiles if p.slug == slug), None)
