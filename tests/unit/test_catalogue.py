"""The profile catalogue read as KubeSpawner reads it, and the start body (pure logic)."""

import pytest
from hubdesk.hub import major_of, start_body
from hubdesk.profiles import ChoiceError, ProfileError, default_profile, load_with_source, parse

OPTIONS = {
    "display_name": "Café Lab",
    "profile_options": {
        "image": {
            "display_name": "Image",
            "choices": {
                "minimal": {"display_name": "Minimal"},
                "scipy": {"display_name": "SciPy", "default": True},
            },
            "unlisted_choice": {
                "enabled": True,
                "display_name": "Image name",
                "validation_regex": "^[a-z]+:[0-9]+$",
                "validation_message": "name:tag, tag in digits",
            },
        },
        "size": {"choices": {"s": {"display_name": "Small"}, "l": {"display_name": "Large"}}},
    },
}


def test_a_mapping_is_read_in_key_order_and_slugs_come_from_display_names():
    profiles = parse({"b": {"display_name": "Zeta"}, "a": {"display_name": "日本語"}})
    assert [(p.slug, p.display_name) for p in profiles] == [
        ("ri-ben-yu", "日本語"),
        ("zeta", "Zeta"),
    ]
    assert default_profile(profiles).slug == "ri-ben-yu"  # the first, when none says default


def test_options_defaults_and_what_is_sent():
    (profile,) = parse([OPTIONS])
    image, size = profile.options
    assert (image.default, size.default, size.display_name) == ("scipy", "s", "size")
    assert image.unlisted.display_name_in_choices == "Other..."  # KubeSpawner's default
    assert profile.user_options_for({}, {}) == {
        "profile": "cafe-lab",
        "image": "scipy",
        "size": "s",
    }
    sent = profile.user_options_for({"image": "unlisted-choice", "size": "l"}, {"image": "lab:7 "})
    assert sent == {
        "profile": "cafe-lab",
        "image": "unlisted-choice",
        "image--unlisted-choice": "lab:7",
        "size": "l",
    }
    assert profile.chosen_labels(sent) == [("Image", "lab:7"), ("size", "Large")]
    assert profile.chosen_labels({"profile": "cafe-lab"}) == [("Image", "SciPy"), ("size", "Small")]


@pytest.mark.parametrize(
    ("chosen", "typed", "words"),
    [
        ({"image": "nope"}, {}, "Image: there is no choice “nope”"),
        ({"image": "unlisted-choice"}, {}, "type a value"),
        ({"image": "unlisted-choice"}, {"image": "Lab:x"}, "name:tag, tag in digits"),
        ({"image": "minimal"}, {"image": "lab:1"}, "choose “Other...” to use the typed value"),
        ({"size": "unlisted-choice"}, {"size": "x"}, "size: it takes no free text"),
    ],
)
def test_choices_that_cannot_be_sent_are_refused_in_words(chosen, typed, words):
    (profile,) = parse([OPTIONS])
    with pytest.raises(ChoiceError, match=words):
        profile.user_options_for(chosen, typed)


@pytest.mark.parametrize(
    ("chosen", "typed", "field"),
    [
        ({"image": "nope"}, {}, ("image", False)),  # the list of choices holds it
        ({"image": "unlisted-choice"}, {}, ("image", True)),  # the free text is missing
        ({"image": "unlisted-choice"}, {"image": "Lab:x"}, ("image", True)),
        ({"image": "minimal"}, {"image": "lab:1"}, ("image", True)),
        ({"size": "unlisted-choice"}, {"size": "x"}, ("size", False)),
    ],
)
def test_a_refused_choice_names_the_field_that_holds_it(chosen, typed, field):
    (profile,) = parse([OPTIONS])
    with pytest.raises(ChoiceError) as caught:
        profile.user_options_for(chosen, typed)
    assert (caught.value.option, caught.value.typed) == field


def test_hubdesk_groups_limit_the_offer():
    gpu, everyone = parse(
        [{"display_name": "GPU", "hubdesk_groups": ["gpu-users"]}, {"display_name": "All"}]
    )
    assert gpu.offered_to(["class-a", "gpu-users"]) and not gpu.offered_to(["class-a"])
    assert everyone.offered_to([])


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([{"display_name": "!!!"}], r"profile 1 “!!!”, key slug: .*gives no slug"),
        ([{"display_name": "A", "slug": ""}], "profile 1 “A”, key slug: must be non-empty"),
        (
            [{"display_name": "A", "profile_options": {"im": {"choices": {}}}}],
            "key profile_options.im: has no choices and no enabled unlisted_choice",
        ),
        (
            [
                {
                    "display_name": "A",
                    "profile_options": {
                        "im": {"unlisted_choice": {"enabled": True, "validation_regex": "("}}
                    },
                }
            ],
            "key profile_options.im.unlisted_choice.validation_regex: not a regular expression",
        ),
        ([{"display_name": "A", "hubdesk_groups": "g"}], "key hubdesk_groups: must be a list"),
        ({"x": "nope"}, "profile 'x': expected a mapping"),
        ([{"display_name": "Café"}, {"slug": "cafe"}], "profile 2, key slug: “cafe” is used twice"),
    ],
)
def test_catalogue_errors_name_the_profile_and_the_key(data, words):
    with pytest.raises(ProfileError, match=words):
        parse(data)


def test_a_z2jh_values_file_is_read_at_singleuser_profile_list(tmp_path):
    values = tmp_path / "config.yaml"
    values.write_text(
        "hub: {config: {}}\nsingleuser:\n  profileList:\n"
        "    - display_name: Café Lab\n    - display_name: GPU\n      default: true\n"
    )
    profiles, source = load_with_source(values)
    assert [p.slug for p in profiles] == ["cafe-lab", "gpu"]
    assert source == f"{values}, key singleuser.profileList"
    values.write_text("singleuser:\n  profileList:\n    - display_name: ''\n")
    with pytest.raises(ProfileError, match=f"^{values}, key singleuser.profileList, profile 1"):
        load_with_source(values)  # at start-up, after "HUBDESK_PROFILES: " (test_profiles.py)


OPTS = {"profile": "cafe-lab", "display_name": "a key of the spawner's own"}


@pytest.mark.parametrize(
    ("major", "options", "display_name", "body"),
    [
        (5, OPTS, "", OPTS),  # 5.x: flat, always
        (5, OPTS, "My lab", OPTS),  # 5.x has no display names
        (5, None, "", None),
        (6, OPTS, "", {"user_options": OPTS}),  # wrapped: never read as the new shape
        (6, OPTS, "My lab", {"user_options": OPTS, "display_name": "My lab"}),
        (6, None, "My lab", {"display_name": "My lab"}),
        (6, {}, "", None),  # nothing: the hub keeps the previous options
    ],
)
def test_start_body_per_hub_major(major, options, display_name, body):
    assert start_body(options, display_name=display_name, hub_major=major) == body


def test_hub_major():
    assert (major_of("5.5.4"), major_of("6.1.1"), major_of("dev")) == (5, 6, 6)
