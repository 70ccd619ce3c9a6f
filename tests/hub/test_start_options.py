"""Starting servers with a profile's options, through hubdesk's pages, against the real hub.

The test hub's catalogue (app/devhub/profiles.yaml) has "Custom lab" (slug custom-lab, made by
KubeSpawner's rule) with an image choice or free text checked by a regex, and a memory choice;
the hub keeps each server's user_options, which is what is checked. JupyterHub 5.x takes the
flat user_options, 6.x ``{"user_options": …, "display_name": …}``: the tests ask the hub's
version and expect what that version keeps.
"""

import html
import re

from helpers.servers import gone_or_stopped, post, running, server  # noqa: F401 (fixture)
from helpers.stack import alert, unique, wait_for
from helpers.start_options import IMAGE, MEMORY, TYPED


def major(stack) -> int:
    return int(stack.api.version().split(".")[0])


def hidden_fields(page: str) -> list[tuple[str, str]]:
    """The hidden inputs of a confirmation page: what its button sends."""
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    return [(name, html.unescape(value)) for name, value in found]


def test_start_with_a_choice_and_free_text_then_start_again(stack, admin, users):  # noqa: F811
    (u,) = users()
    page = admin.get(stack.url(f"users/{u}")).text
    assert (
        'data-profile-options="custom-lab"' in page and f'name="{IMAGE}--unlisted-choice"' in page
    )
    assert ('name="display_name"' in page) == (major(stack) >= 6)
    data = {
        "server": "opts",
        "profile": "custom-lab",
        IMAGE: "unlisted-choice",
        f"{IMAGE}--unlisted-choice": TYPED,
        MEMORY: "4g",
        "display_name": "My R lab",
    }
    r = post(admin, stack, f"users/{u}/servers", data, page=f"users/{u}")
    assert r.url == stack.url(f"users/{u}/servers/opts/progress"), alert(r.text)
    chosen = {
        "profile": "custom-lab",
        "image": "unlisted-choice",
        "image--unlisted-choice": TYPED,
        "memory": "4g",
    }
    model = server(stack, u, "opts")
    assert model["user_options"] == chosen
    if major(stack) >= 6:
        assert model["display_name"] == "My R lab"
    wait_for(lambda: running(stack, u, "opts"))
    row = re.search(
        r'<tr data-server="opts"[^>]*>.*?</tr>', admin.get(stack.url(f"users/{u}")).text, re.S
    )
    text = html.unescape(row.group(0))
    assert "Custom lab" in text and f"Image: {TYPED}" in text and "Memory: 4 GB" in text
    stack.api.stop_server(u, "opts")
    wait_for(lambda: gone_or_stopped(stack, u, "opts"))
    post(admin, stack, f"users/{u}/servers", {"server": "opts"}, page=f"users/{u}")  # "Start"
    wait_for(lambda: running(stack, u, "opts"))
    assert server(stack, u, "opts")["user_options"] == chosen


def test_defaults_are_sent_and_other_profiles_fields_are_ignored(stack, admin, users):  # noqa: F811
    (u,) = users()
    # without JavaScript every profile's fields come along: only the chosen profile's count
    data = {"server": "plain", "profile": "large", IMAGE: "nope", MEMORY: "nope"}
    post(admin, stack, f"users/{u}/servers", data, page=f"users/{u}")
    assert server(stack, u, "plain")["user_options"] == {"profile": "large"}
    post(admin, stack, f"users/{u}/servers", {"server": "dflt", "profile": "custom-lab"})
    assert server(stack, u, "dflt")["user_options"] == {
        "profile": "custom-lab",
        "image": "minimal",
        "memory": "2g",
    }


def test_invalid_choices_are_refused_in_words_and_never_reach_the_hub(stack, admin, users):  # noqa: F811
    (u,) = users()
    cases = [
        ({IMAGE: "unlisted-choice", f"{IMAGE}--unlisted-choice": "no tag"}, "An image with a tag"),
        ({IMAGE: "unlisted-choice"}, "type a value"),
        ({IMAGE: "latest"}, "there is no choice “latest”"),
        ({IMAGE: "minimal", f"{IMAGE}--unlisted-choice": TYPED}, "a value was typed"),
    ]
    for fields, words in cases:
        data = {"server": "bad", "profile": "custom-lab", **fields}
        r = post(admin, stack, f"users/{u}/servers", data, page=f"users/{u}")
        assert "Nothing was started" in alert(r.text) and words in alert(r.text), alert(r.text)
        assert server(stack, u, "bad") is None


def test_hubdesk_groups_limit_whom_a_profile_is_offered_to(stack, admin, users):  # noqa: F811
    (u,) = users()
    assert "GPU (class-a only)" in admin.get(stack.url("users/student")).text
    assert "GPU (class-a only)" not in admin.get(stack.url(f"users/{u}")).text
    r = post(admin, stack, f"users/{u}/servers", {"server": "gpu", "profile": "gpu"})
    assert "no profile “gpu” on offer" in alert(r.text)
    assert server(stack, u, "gpu") is None
    assert "GPU (class-a only)" in admin.get(stack.url("groups/class-a/servers")).text
    assert "GPU (class-a only)" not in admin.get(stack.url("groups/class-b/servers")).text


def test_group_start_with_options(stack, admin, users):  # noqa: F811
    members = users(2, prefix="opt")
    group = unique("opt")
    stack.api.create_group(group, users=members)
    try:
        data = {
            "action": "start",
            "server": "lab",
            "profile": "custom-lab",
            IMAGE: "scipy",
            MEMORY: "4g",
            "display_name": "Class lab",
        }
        review = post(admin, stack, f"groups/{group}/servers", data, page=f"groups/{group}/servers")
        text = html.unescape(review.text)
        assert "Image: <strong>SciPy</strong>" in text and "Memory: <strong>4 GB</strong>" in text
        confirm = dict(hidden_fields(review.text))  # what the confirmation page's button sends
        assert confirm["confirm"] == "yes" and confirm[IMAGE] == "scipy"
        job = admin.post(stack.url(f"groups/{group}/servers"), data=confirm).url
        assert "/servers/jobs/" in job
        wait_for(
            lambda: 'data-state="done" data-testid="job-state"' in admin.get(job).text, seconds=90
        )
        for m in members:
            model = server(stack, m, "lab")
            assert model["user_options"] == {
                "profile": "custom-lab",
                "image": "scipy",
                "memory": "4g",
            }
            if major(stack) >= 6:
                assert model["display_name"] == "Class lab"
    finally:
        stack.api.delete_group(group)
