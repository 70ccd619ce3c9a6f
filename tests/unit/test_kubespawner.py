"""What hubdesk sends, checked by KubeSpawner's own load_user_options() (kubespawner from PyPI).

For catalogues written as zero-to-jupyterhub users write them, each choice a person can make
in hubdesk gives user_options that make KubeSpawner pick exactly that profile and those
overrides; what hubdesk refuses, KubeSpawner would refuse at spawn time. No cluster: a
``KubeSpawner(_mock=True)`` with a kube config that points nowhere (it is never called).
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from hubdesk.profiles import ChoiceError, default_profile, parse

kube_config = pytest.importorskip("kubernetes_asyncio.config.kube_config")
KubeSpawner = pytest.importorskip("kubespawner").KubeSpawner

TRAITS = (
    "image",
    "cpu_limit",
    "cpu_guarantee",
    "mem_limit",
    "mem_guarantee",
    "extra_resource_limits",
    "node_selector",
)

# zero-to-jupyterhub's documented examples (user environment, resources, GPUs, options)
Z2JH_VALUES = """
singleuser:
  profileList:
    - display_name: "Minimal environment"
      description: "To avoid too much bells and whistles: Python."
      default: true
    - display_name: "Datascience environment"
      description: "If you want the additional bells and whistles: Python, R, and Julia."
      kubespawner_override:
        image: quay.io/jupyter/datascience-notebook:2024-08-05
    - display_name: "Spark environment"
      description: "The Jupyter Stacks spark image!"
      kubespawner_override:
        image: quay.io/jupyter/all-spark-notebook:2024-08-05
    - display_name: "GPU Server"
      description: "Spawns a notebook server with access to a GPU"
      kubespawner_override:
        extra_resource_limits:
          nvidia.com/gpu: "1"
        node_selector: {gpu: "true"}
    - display_name: "Choose your environment and resources"
      profile_options:
        image:
          display_name: Image
          choices:
            pangeo:
              display_name: Pangeo Notebook Image
              kubespawner_override:
                image: "pangeo/pangeo-notebook:2023.06.06"
            geospatial:
              display_name: Geospatial Image
              default: true
              kubespawner_override:
                image: "pangeo/pangeo-notebook:2023.06.06"
          unlisted_choice:
            enabled: true
            display_name: "Custom image"
            validation_regex: "^.+:.+$"
            validation_message: "Must be a public docker image, of form <image-name>:<tag>"
            display_name_in_choices: "Specify an existing docker image"
            kubespawner_override:
              image: "{value}"
        resources:
          display_name: Resource Allocation
          choices:
            mem_2_7:
              display_name: 2.7 GB RAM, upto 3.479 CPUs
              kubespawner_override:
                mem_guarantee: 2904451072
                mem_limit: 2904451072
                cpu_guarantee: 0.3479
                cpu_limit: 3.479
            mem_5_4:
              display_name: 5.4 GB RAM, upto 3.479 CPUs
              kubespawner_override:
                mem_guarantee: 5808902144
                mem_limit: 5808902144
                cpu_guarantee: 0.7479
                cpu_limit: 3.479
"""

# accents and non-Latin names, no slugs: KubeSpawner makes them with python-slugify
WORLD = [
    {"display_name": "Café Lab", "kubespawner_override": {"image": "cafe:1"}},
    {"display_name": "日本語 GPU", "kubespawner_override": {"image": "jp:1", "cpu_limit": 2.0}},
    {"display_name": "Ελληνικά", "kubespawner_override": {"mem_limit": "3G"}},
    {"display_name": "Ünïcødé only free text", "profile_options": {
        "image": {"display_name": "Bild", "unlisted_choice": {
            "enabled": True, "validation_regex": "^[a-z]+:[0-9]+$",
            "kubespawner_override": {"image": "{value}"}}}}},
]  # fmt: skip

# a mapping: KubeSpawner takes the values in key order, and the key is not the slug
MAPPING = {
    "zz-last": {"display_name": "Zeta", "kubespawner_override": {"image": "zeta:1"}},
    "aa-first": {
        "display_name": "Alpha",
        "kubespawner_override": {"image": "alpha:1"},
        "profile_options": {
            "size": {
                "display_name": "Size",
                "choices": {
                    "s": {"display_name": "S", "kubespawner_override": {"cpu_limit": 1.0}},
                    "l": {"display_name": "L", "kubespawner_override": {"cpu_limit": 8.0}},
                },
            }
        },
    },
}

CATALOGUES = {
    "z2jh": yaml.safe_load(Z2JH_VALUES),
    "world": WORLD,
    "mapping": MAPPING,
}


@pytest.fixture(autouse=True)
def nowhere_cluster(tmp_path, monkeypatch):
    """A kube config KubeSpawner can load at construction; nothing ever connects to it."""
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: none\n"
        "clusters: [{name: none, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: none, user: {token: none}}]\n"
        "contexts: [{name: none, context: {cluster: none, user: none}}]\n"
    )
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(config))


def profile_list_of(catalogue):
    return catalogue["singleuser"]["profileList"] if "singleuser" in catalogue else catalogue


def spawned_traits(profile_list, user_options: dict | None = None, **overrides) -> dict:
    """The traits of a KubeSpawner after its own load_user_options() (or given overrides)."""

    async def run():
        spawner = KubeSpawner(_mock=True, profile_list=profile_list, **overrides)
        if user_options is not None:
            spawner.user_options = user_options
            await spawner.load_user_options()
        return {t: getattr(spawner, t) for t in TRAITS}

    # a loop of its own in a thread of its own: Playwright's sync API (the browser tests)
    # leaves an event loop running in this thread, and asyncio.run() refuses to nest
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def expected_overrides(raw_profile: dict, chosen: dict, typed: dict) -> dict:
    """What KubeSpawner should apply, read from the raw catalogue: the profile's overrides,
    then each option's chosen choice (its first, or the one marked default, when not chosen)
    or its unlisted choice with the typed ``{value}``."""
    merged = dict(raw_profile.get("kubespawner_override") or {})
    for name, option in (raw_profile.get("profile_options") or {}).items():
        if name in typed:
            override = {
                k: v.format(value=typed[name])
                for k, v in option["unlisted_choice"]["kubespawner_override"].items()
            }
        else:
            choices = option["choices"]
            default = next((k for k, c in choices.items() if c.get("default")), next(iter(choices)))
            override = choices[chosen.get(name, default)].get("kubespawner_override") or {}
        merged.update(override)
    return merged


def every_choice(catalogue):
    """(raw profile, profile, chosen, typed) for each profile and each value of each option."""
    raw = profile_list_of(catalogue)
    raw = [raw[k] for k in sorted(raw)] if isinstance(raw, dict) else raw
    for profile, raw_profile in zip(parse(catalogue), raw, strict=True):
        if all(o.choices for o in profile.options):
            yield raw_profile, profile, {}, {}  # the defaults
        for option in profile.options:
            for choice in option.choices:
                yield raw_profile, profile, {option.name: choice.slug}, {}
            if option.unlisted:
                typed = "quay.io/jupyter/r-notebook:2025" if option.choices else "lab:1"
                yield raw_profile, profile, {option.name: "unlisted-choice"}, {option.name: typed}


CASES = [
    pytest.param(name, *case, id=f"{name}-{case[1].slug}-{i}")
    for name, catalogue in CATALOGUES.items()
    for i, case in enumerate(every_choice(catalogue))
]


@pytest.mark.parametrize(("name", "raw_profile", "profile", "chosen", "typed"), CASES)
def test_kubespawner_applies_exactly_what_was_chosen(name, raw_profile, profile, chosen, typed):
    profile_list = profile_list_of(CATALOGUES[name])
    user_options = profile.user_options_for(chosen, typed)
    # what KubeSpawner's own form sends: the profile and every option's value
    assert user_options["profile"] == profile.slug
    assert set(user_options) >= {o.name for o in profile.options}
    expected = expected_overrides(raw_profile, chosen, typed)
    assert spawned_traits(profile_list, user_options) == spawned_traits(profile_list, **expected)


def test_an_option_with_only_free_text_needs_a_value():
    profile = parse(WORLD)[-1]
    with pytest.raises(ChoiceError, match="type a value"):
        profile.user_options_for({}, {})
    with pytest.raises(ValueError, match="default choice"):  # KubeSpawner: at spawn time
        spawned_traits(WORLD, {"profile": profile.slug})


def test_slugs_and_defaults_are_kubespawners():
    assert [p.slug for p in parse(WORLD)] == [
        "cafe-lab",
        "ri-ben-yu-gpu",
        "ellenika",
        "unicode-only-free-text",
    ]
    profiles = parse(MAPPING)
    assert [p.slug for p in profiles] == ["alpha", "zeta"]
    # nothing chosen: KubeSpawner's default profile is hubdesk's default too
    assert spawned_traits(MAPPING, {})["image"] == "alpha:1"
    assert default_profile(profiles).slug == "alpha"
    assert spawned_traits(MAPPING, {"profile": "zeta"})["image"] == "zeta:1"
    with pytest.raises(ValueError, match="No such profile"):
        spawned_traits(MAPPING, {"profile": "zz-last"})  # the key is not a slug


def test_what_hubdesk_refuses_kubespawner_would_refuse_at_spawn_time():
    catalogue = CATALOGUES["z2jh"]
    profile = parse(catalogue)[-1]
    bad = {"image": "unlisted-choice", "image--unlisted-choice": "no-tag"}
    with pytest.raises(ChoiceError, match="Must be a public docker image"):
        profile.user_options_for({"image": "unlisted-choice"}, {"image": "no-tag"})
    with pytest.raises(ValueError, match="failed validation regex"):
        spawned_traits(profile_list_of(catalogue), {"profile": profile.slug, **bad})
    with pytest.raises(ChoiceError, match="no choice"):
        profile.user_options_for({"image": "nope"}, {})
    with pytest.raises(KeyError):
        spawned_traits(profile_list_of(catalogue), {"profile": profile.slug, "image": "nope"})
