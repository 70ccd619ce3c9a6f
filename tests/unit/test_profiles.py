"""The profile catalogue, server names and server states (pure logic)."""

import json

import pytest
from hubdesk.config import ConfigError, Settings
from hubdesk.names import NamesError, check_server_name
from hubdesk.profiles import Profile, ProfileError, load_with_source, parse, profile_for
from hubdesk.servers.model import state_of


def test_a_kubespawner_profile_list_is_a_catalogue():
    profiles = parse(
        [
            {
                "display_name": "Small",
                "slug": "small",
                "default": True,
                "kubespawner_override": {"cpu_limit": 1},
            },
            {"display_name": "Data Science (GPU)", "description": " GPUs "},
            {
                "slug": "custom",
                "display_name": "Custom",
                "user_options": {"profile": "x", "image": "y"},
            },
        ]
    )
    assert profiles[0] == Profile("small", "Small", "", {"profile": "small"}, True)
    assert profiles[1].slug == "data-science-gpu" and profiles[1].description == "GPUs"
    assert profiles[2].user_options == {"profile": "x", "image": "y"}


def test_catalogue_under_a_profiles_key_and_empty_ones():
    assert [p.slug for p in parse({"profiles": [{"slug": "a"}]})] == ["a"]
    assert parse(None) == [] and parse({}) == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("nope", "a list"),
        (["x"], "a mapping"),
        ([{}], "display_name or a slug"),
        ([{"slug": "a"}, {"slug": "a"}], "used twice"),
        ([{"slug": "a", "user_options": []}], "user_options must be a mapping"),
    ],
)
def test_bad_catalogues_say_where_and_why(data, words):
    with pytest.raises(ProfileError, match=words):
        parse(data)


def test_files_yaml_json_and_broken(tmp_path):
    y = tmp_path / "p.yaml"
    y.write_text("- slug: small\n  display_name: Small\n")
    j = tmp_path / "p.json"
    j.write_text(json.dumps([{"slug": "big"}]))
    bad = tmp_path / "bad.yaml"
    bad.write_text("- slug: [unclosed\n")
    assert load_with_source(y)[0][0].slug == "small" and load_with_source(j)[0][0].slug == "big"
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_with_source(bad)
    with pytest.raises(ProfileError, match="cannot read"):
        load_with_source(tmp_path / "missing.yaml")


def test_a_bad_catalogue_stops_start_up_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles: 3\n")
    env = {
        "JUPYTERHUB_API_URL": "http://h/hub/api",
        "JUPYTERHUB_API_TOKEN": "t" * 32,
        "HUBDESK_SECRET_KEY": "k" * 40,
        "HUBDESK_PROFILES": str(bad),
    }
    with pytest.raises(ConfigError, match=r"^HUBDESK_PROFILES: .*a list of profiles$"):
        Settings.from_env(env)


def test_which_profile_a_server_came_from():
    profiles = parse(
        [{"slug": "small"}, {"slug": "gpu", "user_options": {"profile": "gpu", "gpus": 1}}]
    )
    assert profile_for(profiles, {"profile": "small"}).slug == "small"
    assert profile_for(profiles, {"profile": "gpu", "gpus": 1}).slug == "gpu"
    assert profile_for(profiles, {"profile": "gpu"}).slug == "gpu"  # by slug
    assert profile_for(profiles, {"image": "x"}) is None
    assert profile_for(profiles, None) is None


NAMES = [
    "labs",
    "a",
    "a1",
    "a-b",
    "a-b-c",
    "x" * 30,
    "x" * 31,
    "a--b",
    "-a",
    "a-",
    "1a",
    "Abc",
    "lab_1",
    "été",
    "a b",
    "",
    "a/b",
]


def hub_takes(name: str, hub_major: int) -> bool:
    """Whether the JupyterHub under test takes ``name`` for a new named server."""
    if hub_major >= 6:
        from jupyterhub.slugs import is_valid_safe_slug  # new in 6.x

        return is_valid_safe_slug(name)
    # 5.x's only rule (jupyterhub/handlers/base.py, spawn_single_user): no "/"; "" is the
    # default server, not a name. (hubdesk refuses "." and ".." too: tests/test_names.py)
    return bool(name) and "/" not in name


@pytest.mark.parametrize("name", NAMES)
def test_server_names_follow_the_hubs_own_rule(name, hub_major):
    try:
        # on 6.x with no hub_major: hubdesk's default is 6.x's rule
        check_server_name(name) if hub_major >= 6 else check_server_name(name, hub_major=5)
        ours = True
    except NamesError:
        ours = False
    assert ours == hub_takes(name, hub_major)


def test_server_names_on_jupyterhub_5():
    assert check_server_name("Lab_1 é", hub_major=5) == "Lab_1 é"
    with pytest.raises(NamesError):
        check_server_name("a/b", hub_major=5)


@pytest.mark.parametrize(
    ("model", "state"),
    [
        ({"ready": True, "pending": None}, "running"),
        ({"ready": False, "pending": "spawn"}, "starting"),
        ({"ready": True, "pending": "stop"}, "stopping"),
        ({"ready": False, "pending": None, "stopped": True}, "stopped"),
    ],
)
def test_server_states(model, state):
    assert state_of(model) == state
