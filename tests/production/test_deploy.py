"""The Kubernetes deployment in deploy/: valid manifests, and the facts that make it work.

Two variants, each what `kubectl apply -k` sends: deploy/kubernetes/ (two replicas sharing
a PostgreSQL database) and deploy/kubernetes-sqlite/ (an overlay of it: one replica, SQLite
on a ReadWriteOnce claim), both with the operator's settings (the hub's release name, the
image) from one Component, deploy/settings/. They are built here offline, by a small
kustomize that knows what these files use (a strategic merge, a component, a local
ConfigMap, images, replacements); where kubectl is installed, a test checks that kubectl's
own kustomize builds the same. The optional Job in deploy/jobs/ is checked too.

Every resource is validated offline by kubernetes-validate (it ships the API schemas)
against one fixed Kubernetes version, in strict mode, so an unknown or misspelt field
fails. The rest checks what a schema cannot: that the pieces agree with each other and
with hubdesk itself (the settings it reads, its health paths, the scopes in hubdesk.devhub),
so a renamed setting or a changed scope breaks this test rather than a production rollout.
"""

from __future__ import annotations

import ast
import copy
import functools
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from hubdesk.config import ConfigError, Settings
from hubdesk.devhub import (
    OAUTH_CLIENT_ALLOWED_SCOPES,
    OPTIONAL_SERVICE_SCOPES,
    SERVICE_NAME,
    SERVICE_SCOPES,
    hub_roles,
)
from hubdesk.profiles import parse as parse_profiles
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "deploy" / "kubernetes"
SQLITE = REPO / "deploy" / "kubernetes-sqlite"
JOBS = REPO / "deploy" / "jobs"
UPGRADE_JOB = JOBS / "db-upgrade.yaml"
SETTINGS = REPO / "deploy" / "settings"
VALUES = REPO / "deploy" / "z2jh" / "values.yaml"
KUSTOMIZATION = MANIFESTS / "kustomization.yaml"
# the settings hubdesk reads: a variable the Deployment sets must appear in one of these
SETTINGS_SOURCES = [REPO / "app" / "config.py", REPO / "app" / "gunicorn_conf.py"]
# settings hubdesk no longer has: a manifest setting one is out of date
RETIRED_SETTINGS = {"HUBDESK_AUDIT_FILE"}
DATABASE_SETTINGS = {"HUBDESK_DB_URL", "HUBDESK_DB_URL_FILE"}

# The Kubernetes API the manifests are validated against: fixed, so that a new release of
# kubernetes-validate cannot change the verdict (each release ships several versions' schemas).
KUBERNETES_VERSION = "1.30.0"
PREFIX = f"/services/{SERVICE_NAME}/"
PORT = 8000


def manifest_files() -> list[Path]:
    found = [*MANIFESTS.glob("*.yaml"), *MANIFESTS.glob("*.yml")]
    return sorted(p for p in found if p != KUSTOMIZATION)


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@functools.cache
def all_resources() -> list[tuple[Path, dict]]:
    """Every resource of deploy/kubernetes/, read once (tests must not change them)."""
    return [(path, doc) for path in manifest_files() for doc in documents(path)]


def ident(resource: dict) -> tuple[str, str]:
    return resource["kind"], resource["metadata"]["name"]


# -- kustomize, offline -------------------------------------------------------------------

# The lists a strategic merge patch matches item by item, by this key (the Kubernetes API's
# patchMergeKey); any other list is replaced whole.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}
KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "components",
    "patches",
    "configMapGenerator",
    "images",
    "replacements",
}
LOCAL_CONFIG = "config.kubernetes.io/local-config"


def merge(target: dict, patch: dict) -> None:
    """Apply a strategic merge patch: null deletes a field, `$patch: delete` a list item."""
    for key, value in patch.items():
        assert not key.startswith("$"), f"the offline build knows no {key} here"
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(target.get(key), list):
            by = MERGE_KEYS[key]
            for change in value:
                change = dict(change)
                directive = change.pop("$patch", None)
                assert directive in (None, "delete"), f"the offline build knows no {directive}"
                found = [item for item in target[key] if item[by] == change[by]]
                assert len(found) <= 1, f"two {key} with {by} {change[by]}"
                if directive == "delete":
                    assert found, f"the patch deletes {key} {change[by]}, which is not there"
                    target[key].remove(found[0])
                elif found:
                    merge(found[0], change)
                else:
                    target[key].append(copy.deepcopy(change))
        else:
            target[key] = copy.deepcopy(value)


def build(directory: Path) -> list[dict]:
    """What `kubectl kustomize directory` sends, for the kustomize features used here."""
    return [r for r in accumulate(directory) if not is_local_config(r)]


def is_local_config(resource: dict) -> bool:
    annotations = resource.get("metadata", {}).get("annotations") or {}
    return annotations.get(LOCAL_CONFIG) == "true"


def accumulate(directory: Path, resources: list[dict] | None = None) -> list[dict]:
    """A kustomization's resources, its components', then its generators and transformers."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    assert not unknown, f"{directory.name}: build() knows no {sorted(unknown)}: teach it"
    component = kustomization["kind"] == "Component"
    resources = [] if resources is None else resources  # a component adds to its parent's
    for entry in kustomization.get("resources", []):
        path = directory / entry
        resources += build(path) if path.is_dir() else documents(path)
    for entry in kustomization.get("components", []):
        resources = accumulate((directory / entry).resolve(), resources)
    for generator in kustomization.get("configMapGenerator", []):
        resources.append(generated_config_map(generator))
    for patch in kustomization.get("patches", []):
        assert set(patch) in ({"path"}, {"patch"}), f"build() knows no patch {patch}"
        if "path" in patch:
            changes = documents(directory / patch["path"])
        else:
            changes = [d for d in yaml.safe_load_all(patch["patch"]) if d]
        for change in changes:
            found = [r for r in resources if ident(r) == ident(change)]
            assert len(found) == 1, f"the patch {ident(change)} matches {len(found)} resources"
            if change.get("$patch") == "delete":
                resources.remove(found[0])
            else:
                merge(found[0], change)
    for image in kustomization.get("images", []):
        set_image(resources, image)
    for replacement in kustomization.get("replacements", []):
        replace(resources, replacement)
    assert component or kustomization["kind"] == "Kustomization", directory
    return resources


def generated_config_map(generator: dict) -> dict:
    """A configMapGenerator's ConfigMap (literals only, no name suffix)."""
    assert set(generator) <= {"name", "literals", "options"}, generator
    options = generator.get("options", {})
    assert options.get("disableNameSuffixHash") is True, "build() adds no name suffix"
    metadata = {"name": generator["name"]}
    if options.get("annotations"):
        metadata["annotations"] = dict(options["annotations"])
    data = dict(literal.split("=", 1) for literal in generator["literals"])
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def pod_specs(resources):
    """The pod spec of each workload (Deployment, Job) among the resources."""
    for resource in resources:
        if resource["kind"] in ("Deployment", "Job"):
            yield resource["spec"]["template"]["spec"]


def set_image(resources: list[dict], image: dict) -> None:
    """kustomize's `images:`: a new name and tag for every container of that image."""
    assert set(image) <= {"name", "newName", "newTag"}, image
    for pod in pod_specs(resources):
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                tag = image.get("newTag", tag)
                container["image"] = image.get("newName", name) + (f":{tag}" if tag else "")


def path_parts(field_path: str) -> list[str]:
    """kustomize's field path: dots between parts, a [key] holding dots of its own."""
    return [a or b for a, b in re.findall(r"\[([^\]]+)\]|([^.\[]+)", field_path)]


def replace(resources: list[dict], replacement: dict) -> None:
    """kustomize's `replacements:`, for a source field and targets with `*` over lists."""
    source = replacement["source"]
    (found,) = [
        r
        for r in resources
        if r["kind"] == source["kind"] and r["metadata"]["name"] == source["name"]
    ]
    value = found
    for part in path_parts(source["fieldPath"]):
        value = value[part]
    for target in replacement["targets"]:
        select = target["select"]
        for resource in resources:
            if (resource["kind"], resource["metadata"]["name"]) != (
                select["kind"],
                select["name"],
            ):
                continue
            for field_path in target["fieldPaths"]:
                set_field(resource, path_parts(field_path), value)


def set_field(node, parts: list[str], value) -> None:
    """Set every field the path reaches; `*` takes each item of a list, and a field that is
    not there under a `*` is skipped (kustomize's default, create: false)."""
    head, rest = parts[0], parts[1:]
    if head == "*":
        assert rest, "build() replaces no whole list item"
        for item in node if isinstance(node, list) else []:
            set_field(item, rest, value)
        return
    assert "=" not in head, f"build() knows no list selector [{head}]"
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        set_field(node[head], rest, value)
    else:
        node[head] = value


def normalized(resources) -> list[dict]:
    """In a comparable order: resources by kind and name, matched lists by their key."""

    def sort(node):
        if isinstance(node, dict):
            return {
                k: (
                    sorted((sort(i) for i in v), key=lambda i: i[MERGE_KEYS[k]])
                    if k in MERGE_KEYS and isinstance(v, list)
                    else sort(v)
                )
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [sort(i) for i in node]
        return node

    return sorted((sort(r) for r in resources), key=ident)


# -- the variants -------------------------------------------------------------------------


def mounted_file(pod: dict, path: str) -> tuple[dict, str]:
    """The volume a file path in the pod's one container comes from, and its key in it."""
    (container,) = pod["containers"]
    for mount in container["volumeMounts"]:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
            return volume, path[len(prefix) :]
    raise AssertionError(f"{path} is on no mounted volume")


def env_of(pod: dict) -> dict[str, str]:
    (container,) = pod["containers"]
    return {item["name"]: item["value"] for item in container["env"]}


@dataclass(frozen=True)
class Variant:
    """One way to deploy hubdesk: the resources `kubectl apply -k <directory>` sends."""

    name: str
    directory: Path
    resources: tuple[dict, ...]

    def all(self, kind: str) -> list[dict]:
        return [r for r in self.resources if r["kind"] == kind]

    def the(self, kind: str, name: str | None = None) -> dict:
        """The one resource of this kind (and name)."""
        found = [r for r in self.all(kind) if name is None or r["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: expected one {kind} {name or ''}, got {len(found)}"
        return found[0]

    @property
    def deployment(self) -> dict:
        return self.the("Deployment")

    @property
    def replicas(self) -> int:
        return self.deployment["spec"]["replicas"]

    @property
    def pod(self) -> dict:
        return self.deployment["spec"]["template"]["spec"]

    @property
    def container(self) -> dict:
        (container,) = self.pod["containers"]
        return container

    @property
    def env(self) -> dict[str, str]:
        return env_of(self.pod)

    def volume(self, name: str) -> dict:
        (found,) = [v for v in self.pod["volumes"] if v["name"] == name]
        return found

    def volume_at(self, path: str) -> dict:
        """The volume mounted at exactly this directory."""
        (mount,) = [m for m in self.container["volumeMounts"] if m["mountPath"] == path]
        return self.volume(mount["name"])

    def mounted_file(self, path: str) -> tuple[dict, str]:
        return mounted_file(self.pod, path)

    def port_number(self, port) -> int:
        """A probe's port: a number, or the name of one of the container's ports."""
        if isinstance(port, int):
            return port
        (found,) = [p["containerPort"] for p in self.container["ports"] if p["name"] == port]
        return found

    def claims(self) -> list[dict]:
        """Every PersistentVolumeClaim it makes, standalone or in a pod's ephemeral volume."""
        ephemeral = [
            v["ephemeral"]["volumeClaimTemplate"] for v in self.pod["volumes"] if "ephemeral" in v
        ]
        return self.all("PersistentVolumeClaim") + ephemeral

    def database_url(self) -> str:
        """The URL in the Secret the Deployment reads HUBDESK_DB_URL_FILE from."""
        source, key = self.mounted_file(self.env["HUBDESK_DB_URL_FILE"])
        (item,) = [i["key"] for i in source["secret"]["items"] if i["path"] == key]
        return self.the("Secret", source["secret"]["secretName"])["stringData"][item]


@functools.cache
def variants() -> dict[str, Variant]:
    return {
        "kubernetes": Variant("kubernetes", MANIFESTS, tuple(build(MANIFESTS))),
        "kubernetes-sqlite": Variant("kubernetes-sqlite", SQLITE, tuple(build(SQLITE))),
    }


def default() -> Variant:
    """deploy/kubernetes/: several replicas and PostgreSQL."""
    return variants()["kubernetes"]


def sqlite() -> Variant:
    """deploy/kubernetes-sqlite/: one replica and SQLite."""
    return variants()["kubernetes-sqlite"]


@pytest.fixture(params=list(variants()))
def variant(request) -> Variant:
    return variants()[request.param]


def upgrade_job() -> dict:
    """The Job as `kubectl create -k deploy/jobs` sends it (the image from deploy/settings)."""
    (job,) = build(JOBS)
    return job


def with_local_files(pod: dict, resources, tmp_path: Path) -> dict[str, str]:
    """The pod's environment, each mounted file (/etc/...) recreated under tmp_path.

    Secrets and ConfigMaps are taken as the manifests have them, except the chart's `hub`
    Secret (not ours: a token stands in) and the session secret (a valid key stands in
    for its placeholder).
    """
    stand_ins = {
        ("hub", f"hub.services.{SERVICE_NAME}.apiToken"): "t" * 64,
        ("hubdesk-session", "secret-key"): "0123456789abcdef" * 4,
    }
    config = {}
    for name, value in env_of(pod).items():
        if value.startswith("/etc/"):
            source, path = mounted_file(pod, value)
            if "secret" in source:
                ref, kind, field = source["secret"]["secretName"], "Secret", "stringData"
                items = source["secret"]["items"]
            else:
                ref, kind, field = source["configMap"]["name"], "ConfigMap", "data"
                items = source["configMap"]["items"]
            (item,) = [i["key"] for i in items if i["path"] == path]
            if (ref, item) in stand_ins:
                data = stand_ins[ref, item]
            else:
                (resource,) = [r for r in resources if ident(r) == (kind, ref)]
                data = resource[field][item]
            local = tmp_path / name / path
            local.parent.mkdir(parents=True)
            local.write_text(data, encoding="utf-8")
            value = str(local)
        config[name] = value
    return config


# -- schema validation --------------------------------------------------------------------


def test_the_kubernetes_version_is_one_kubernetes_validate_ships():
    assert KUBERNETES_VERSION in kubernetes_validate.utils.all_versions(), (
        f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for "
        f"Kubernetes {KUBERNETES_VERSION}"
    )


@pytest.mark.parametrize(
    "where, resource",
    [
        pytest.param(where.name, d, id=f"{where.name}:{d['kind']}:{d['metadata']['name']}")
        for where in (MANIFESTS, SQLITE, JOBS)
        for d in build(where)
    ],
)
def test_manifest_is_valid_kubernetes(where, resource):
    # strict: a field the API does not know (a typo, a wrong nesting level) is an error
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        pytest.fail(f"{where}: {resource['kind']} {path}: {e.message}")


def test_strict_validation_catches_an_unknown_field():
    """The validator is not vacuous: a misspelt field in the Deployment fails."""
    broken = copy.deepcopy(default().deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_manifest_file_holds_one_resource():
    names = []
    for path in manifest_files():
        docs = documents(path)
        assert len(docs) == 1, f"{path.name} holds {len(docs)} resources"
        names.append(ident(docs[0]))
    assert len(names) == len(set(names)), "two files make the same resource"
    assert {kind for kind, _ in names} == {
        "Deployment",
        "Service",
        "NetworkPolicy",
        "Secret",
        "ConfigMap",
        "PodDisruptionBudget",
    }


def kubectl_build(directory: Path) -> list[dict] | None:
    """What kubectl's own kustomize makes of a directory; None where kubectl is missing."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return None
    built = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    return [d for d in yaml.safe_load_all(built.stdout) if d]


@pytest.mark.parametrize("directory", [MANIFESTS, SQLITE, JOBS], ids=lambda d: d.name)
def test_kustomization_builds_with_kubectl(directory):
    """What `kubectl apply -k` would send: exactly what these tests check (kubectl's kustomize)."""
    sent = kubectl_build(directory)
    if sent is None:
        pytest.skip("kubectl is not installed (the offline build is checked all the same)")
    assert normalized(sent) == normalized(build(directory))


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), "a manifest is listed twice"
    assert sorted(resources) == [p.name for p in manifest_files()]
    # the namespace is the operator's: the hub's, whatever they called it
    assert "namespace" not in kustomization
    # and so are the release name and the image: in the one component every variant uses
    assert [(MANIFESTS / c).resolve() for c in kustomization["components"]] == [SETTINGS]


def test_sqlite_overlay_is_the_base_and_its_own_files():
    kustomization = yaml.safe_load((SQLITE / "kustomization.yaml").read_text("utf-8"))
    assert kustomization["kind"] == "Kustomization"
    assert "namespace" not in kustomization
    # kustomize refuses an overlay inside its base's folder: a sibling of it
    assert (SQLITE / kustomization["resources"][0]).resolve() == MANIFESTS
    used = kustomization["resources"][1:] + [
        p["path"] for p in kustomization["patches"] if "path" in p
    ]
    present = sorted(p.name for p in SQLITE.iterdir() if p.name != "kustomization.yaml")
    assert sorted(used) == present, "a file of the overlay is unused, or missing"


def test_offline_build_knows_strategic_merge():
    """build()'s merge, on what the overlay relies on, as kustomize does it."""
    target = {
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "volumes": [{"name": "v", "emptyDir": {}}],
        }
    }
    merge(
        target,
        {
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate", "rollingUpdate": None},
                "env": [{"name": "A", "$patch": "delete"}, {"name": "C", "value": "3"}],
                "volumes": [{"name": "v", "emptyDir": None, "hostPath": {"path": "/x"}}],
            }
        },
    )
    assert target == {
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "env": [{"name": "B", "value": "2"}, {"name": "C", "value": "3"}],
            "volumes": [{"name": "v", "hostPath": {"path": "/x"}}],
        }
    }


# -- the Deployment -----------------------------------------------------------------------


def test_default_deployment_runs_at_least_two_replicas():
    assert default().replicas >= 2


def test_deployment_matches_its_selector(variant):
    selector = variant.deployment["spec"]["selector"]["matchLabels"]
    labels = variant.deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_pods_may_reach_the_hub(variant):
    """zero-to-jupyterhub's hub NetworkPolicy admits pods with this exact label and value."""
    labels = variant.deployment["spec"]["template"]["metadata"]["labels"]
    assert labels.get("hub.jupyter.org/network-access-hub") == "true"


def assert_locked_down(pod: dict) -> None:
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 1000  # the image's USER
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    # mounted secrets: readable by the pod's group (the files belong to root), not by others
    assert pod["securityContext"]["fsGroup"] == security["runAsGroup"]
    secrets = [v for v in pod["volumes"] if "secret" in v]
    assert secrets
    for volume in secrets:
        mode = volume["secret"]["defaultMode"]
        assert mode & 0o040 and not mode & 0o007, f"{volume['name']}: mode {mode:o}"
    # a read-only root needs a writable /tmp
    (tmp,) = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == tmp]
    assert "emptyDir" in volume


def test_container_is_locked_down(variant):
    assert_locked_down(variant.pod)
    assert {v["name"] for v in variant.pod["volumes"] if "secret" in v} >= {"api-token", "session"}


def assert_one_source_per_volume(pod: dict) -> None:
    """A volume has one source (the API refuses more; the schema does not say so)."""
    for volume in pod["volumes"]:
        sources = sorted(set(volume) - {"name"})
        assert len(sources) == 1, f"volume {volume['name']}: {sources}"


def test_every_volume_has_one_source(variant):
    # an overlay turning the emptyDir into a claim must also drop the emptyDir
    assert_one_source_per_volume(variant.pod)


def test_container_has_requests_and_limits(variant):
    resources = variant.container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert {"cpu", "memory"} <= resources["limits"].keys()


def test_probes_point_at_the_health_endpoints(variant):
    container = variant.container
    assert [p["containerPort"] for p in container["ports"]] == [PORT]
    readiness = container["readinessProbe"]["httpGet"]
    liveness = container["livenessProbe"]["httpGet"]
    # readiness follows the hub (503 when it does not answer); liveness never does
    assert readiness["path"] == f"{PREFIX}health"
    assert liveness["path"] == f"{PREFIX}health/live"
    assert variant.port_number(readiness["port"]) == PORT
    assert variant.port_number(liveness["port"]) == PORT
    if "startupProbe" in container:
        startup = container["startupProbe"]["httpGet"]
        assert startup["path"] == f"{PREFIX}health/live"
        assert variant.port_number(startup["port"]) == PORT


def test_health_paths_are_hubdesks(tmp_path):
    """The probed paths are hubdesk's: liveness answers without a hub, readiness does not."""
    from hubdesk import create_app

    app = create_app(
        {
            "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",
            "JUPYTERHUB_API_TOKEN": "x" * 32,
            "HUBDESK_SECRET_KEY": "0123456789abcdef" * 4,
            "HUBDESK_STATE_DIR": str(tmp_path),
            "JUPYTERHUB_SERVICE_PREFIX": default().env["JUPYTERHUB_SERVICE_PREFIX"],
        }
    )
    client = app.test_client()
    live = client.get(default().container["livenessProbe"]["httpGet"]["path"])
    assert live.status_code == 200
    # nothing listens on the hub's address here: not ready, and saying why
    ready = client.get(default().container["readinessProbe"]["httpGet"]["path"])
    assert ready.status_code == 503
    assert ready.get_json()["hub"] == "down"


def test_api_token_comes_from_the_charts_hub_secret(variant):
    source, key = variant.mounted_file(variant.env["HUBDESK_API_TOKEN_FILE"])
    secret = source["secret"]
    assert secret["secretName"] == "hub"
    assert {"key": f"hub.services.{SERVICE_NAME}.apiToken", "path": key} in secret["items"]
    assert "JUPYTERHUB_API_TOKEN" not in variant.env


def test_secret_key_comes_from_the_session_secret(variant):
    source, key = variant.mounted_file(variant.env["HUBDESK_SECRET_KEY_FILE"])
    assert source["secret"]["secretName"] == "hubdesk-session"
    secret = variant.the("Secret", "hubdesk-session")
    (item,) = [i for i in source["secret"]["items"] if i["path"] == key]
    assert item["key"] in secret["stringData"]
    assert "HUBDESK_SECRET_KEY" not in variant.env


def test_session_secret_is_a_placeholder_hubdesk_refuses(tmp_path):
    """A forgotten placeholder stops hubdesk at start-up instead of signing with a public key."""
    (value,) = default().the("Secret", "hubdesk-session")["stringData"].values()
    key_file = tmp_path / "secret-key"
    key_file.write_text(value)
    config = {
        "JUPYTERHUB_API_URL": "http://hub:8081/hub/api",
        "JUPYTERHUB_API_TOKEN": "x" * 32,
        "HUBDESK_SECRET_KEY_FILE": str(key_file),
    }
    with pytest.raises(ConfigError, match="HUBDESK_SECRET_KEY is too short"):
        Settings.from_env(config)


def settings_hubdesk_reads() -> set[str]:
    source = "\n".join(p.read_text(encoding="utf-8") for p in SETTINGS_SOURCES)
    return set(re.findall(r"""["']((?:JUPYTERHUB|HUBDESK)_[A-Z0-9_]+)["']""", source))


def test_every_env_var_is_a_setting_hubdesk_reads(variant):
    unknown = sorted(set(variant.env) - settings_hubdesk_reads())
    assert not unknown, (
        f"{variant.name}: the Deployment sets {unknown}, which hubdesk does not read"
    )
    retired = sorted(set(variant.env) & RETIRED_SETTINGS)
    assert not retired, f"{variant.name}: the Deployment sets {retired}, which hubdesk dropped"


def test_settings_from_the_deployment_are_accepted(variant, tmp_path):
    """hubdesk's own config loader takes the Deployment's environment as it is.

    Mounted files are recreated under tmp_path: the profile catalogue from the ConfigMap,
    the database URL from its Secret, a token and a secret key in place of the others.
    """
    settings = Settings.from_env(with_local_files(variant.pod, variant.resources, tmp_path))
    assert settings.service_name == SERVICE_NAME
    assert settings.service_prefix == PREFIX
    assert settings.client_id == f"service-{SERVICE_NAME}"
    assert settings.oauth_callback_url == f"{PREFIX}oauth_callback"
    assert settings.api_url == "http://hub:8081/hub/api"
    assert [p.slug for p in settings.profiles] == ["small", "gpu"]
    state = variant.volume_at(settings.state_dir)
    url = make_url(settings.db_url)
    if variant.replicas > 1:
        # the shared database, and a state directory of each pod's own
        assert settings.db_url == variant.database_url()
        assert url.get_backend_name() == "postgresql"
        assert "emptyDir" in state
    else:
        # hubdesk's default: an SQLite file in the state directory, on the claim
        assert url.get_backend_name() == "sqlite"
        assert Path(url.database).parent == Path(settings.state_dir)
        assert "persistentVolumeClaim" in state


def test_gunicorn_listens_where_the_probes_and_service_look(variant):
    assert variant.env["HUBDESK_BIND"] == f"0.0.0.0:{PORT}"
    assert variant.env["HUBDESK_FORWARDED_ALLOW_IPS"] == "*"
    # behind the chart's proxy X-Forwarded-Proto can read "https,http": do not rely on it
    assert variant.env["HUBDESK_SECURE_COOKIES"] == "true"


def test_profiles_configmap_is_a_catalogue_hubdesk_accepts():
    data = yaml.safe_load(default().the("ConfigMap")["data"]["profiles.yaml"])
    profiles = parse_profiles(data)
    assert [p.slug for p in profiles] == ["small", "gpu"]
    assert [p.slug for p in profiles if p.default] == ["small"]
    # KubeSpawner picks a profile from user_options["profile"]
    assert all(p.user_options == {"profile": p.slug} for p in profiles)


# -- where hubdesk's state lives ----------------------------------------------------------


def test_no_claim_asks_for_read_write_many(variant):
    """No variant needs a shared file system: the replicas share a database instead."""
    for claim in variant.claims():
        assert "ReadWriteMany" not in claim["spec"]["accessModes"], variant.name


def test_replicas_share_a_database_and_no_volume():
    several = [v for v in variants().values() if v.replicas > 1]
    assert several, "no variant runs several replicas"
    for variant in several:
        # the URL (it holds a password) from a mounted Secret, never the environment
        assert "HUBDESK_DB_URL" not in variant.env
        source, _ = variant.mounted_file(variant.env["HUBDESK_DB_URL_FILE"])
        assert source["secret"]["secretName"] in {
            s["metadata"]["name"] for s in variant.all("Secret")
        }
        scheme = urlsplit(variant.database_url()).scheme
        assert scheme == "postgresql+psycopg", f"{variant.name}: {scheme}"
        # nothing on disk outlives a pod or is seen by another one
        assert not variant.claims()
        assert not [v for v in variant.pod["volumes"] if "persistentVolumeClaim" in v]
        assert "emptyDir" in variant.volume_at(variant.env["HUBDESK_STATE_DIR"])


def test_database_secret_is_a_placeholder_that_cannot_connect():
    """A forgotten placeholder fails loudly: its host never resolves (RFC 6761's .invalid)."""
    url = urlsplit(default().database_url())
    assert url.scheme == "postgresql+psycopg"  # the driver the image installs
    assert url.hostname.endswith(".invalid")
    assert url.password == "REPLACE-ME"
    assert url.port == 5432
    assert url.path == "/hubdesk"


def test_network_policies_let_hubdesk_out_to_its_database_only_when_it_has_one(variant):
    pods = variant.deployment["spec"]["template"]["metadata"]["labels"]
    ports = {
        (port["protocol"], port["port"])
        for policy in variant.all("NetworkPolicy")
        if policy["spec"]["podSelector"]["matchLabels"].items() <= pods.items()
        for rule in policy["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }
    if "HUBDESK_DB_URL_FILE" in variant.env:
        assert ("TCP", urlsplit(variant.database_url()).port) in ports
    else:
        assert ports == {("TCP", 8081), ("UDP", 53), ("TCP", 53)}


def test_sqlite_overlay_runs_one_pod_on_a_read_write_once_claim():
    variant = sqlite()
    assert variant.replicas == 1
    # the old pod lets go of the volume before the new one mounts it
    assert variant.deployment["spec"]["strategy"] == {"type": "Recreate"}
    # no database URL: hubdesk's default, an SQLite file in HUBDESK_STATE_DIR
    assert not set(variant.env) & DATABASE_SETTINGS
    assert ("Secret", "hubdesk-database") not in {ident(r) for r in variant.resources}
    (mount,) = [
        m
        for m in variant.container["volumeMounts"]
        if m["mountPath"] == variant.env["HUBDESK_STATE_DIR"]
    ]
    assert not mount.get("readOnly")
    claim = variant.the(
        "PersistentVolumeClaim", variant.volume(mount["name"])["persistentVolumeClaim"]["claimName"]
    )
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_a_read_write_once_claim_is_mounted_by_one_pod_at_a_time(variant):
    claims = {c["metadata"]["name"]: c for c in variant.all("PersistentVolumeClaim")}
    mounted = [
        claims[v["persistentVolumeClaim"]["claimName"]]
        for v in variant.pod["volumes"]
        if "persistentVolumeClaim" in v
    ]
    if any("ReadWriteOnce" in c["spec"]["accessModes"] for c in mounted):
        assert variant.replicas == 1
        assert variant.deployment["spec"]["strategy"]["type"] == "Recreate"


def test_sqlite_overlay_changes_nothing_else():
    """The overlay differs from the base in replicas, strategy, the database and the state."""

    def without_state(variant: Variant) -> list[dict]:
        dropped = {("Secret", "hubdesk-database"), ("NetworkPolicy", "hubdesk-database")}
        dropped |= {ident(r) for r in variant.all("PodDisruptionBudget")}
        dropped |= {ident(r) for r in variant.all("PersistentVolumeClaim")}
        resources = [copy.deepcopy(r) for r in variant.resources if ident(r) not in dropped]
        (deployment,) = [r for r in resources if r["kind"] == "Deployment"]
        spec = deployment["spec"]
        del spec["replicas"], spec["strategy"]
        pod = spec["template"]["spec"]
        (container,) = pod["containers"]
        container["env"] = [e for e in container["env"] if e["name"] not in DATABASE_SETTINGS]
        state, database = variant.env["HUBDESK_STATE_DIR"], "/etc/hubdesk/database"
        container["volumeMounts"] = [
            m for m in container["volumeMounts"] if m["mountPath"] not in (state, database)
        ]
        pod["volumes"] = [v for v in pod["volumes"] if v["name"] not in ("state", "database")]
        return normalized(resources)

    assert without_state(sqlite()) == without_state(default())


def test_disruption_budget_keeps_a_pod_and_never_blocks_a_drain(variant):
    pods = variant.deployment["spec"]["template"]["metadata"]["labels"]
    budgets = [
        b["spec"]
        for b in variant.all("PodDisruptionBudget")
        if b["spec"]["selector"]["matchLabels"].items() <= pods.items()
    ]
    if variant.replicas > 1:
        # one pod always up; the others may go, one at a time
        (budget,) = budgets
        assert budget["selector"] == variant.deployment["spec"]["selector"]
        assert budget["minAvailable"] == 1 < variant.replicas
    else:
        # minAvailable 1 of 1 pod would make every node drain wait forever
        for budget in budgets:
            assert budget.get("maxUnavailable", 0) >= 1 or budget.get("minAvailable") == 0


# -- the schema upgrade Job ---------------------------------------------------------------


def test_upgrade_job_runs_hubdesk_db_on_the_deployments_database(tmp_path):
    job = upgrade_job()
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["hubdesk-db", "upgrade"]
    assert pod["restartPolicy"] == "Never"
    # the same image (the placeholder, set alike by the operator), the same lock-down
    assert container["image"] == default().container["image"]
    assert_locked_down(pod)
    assert_one_source_per_volume(pod)
    assert pod["securityContext"] == default().pod["securityContext"]
    assert container["securityContext"] == default().container["securityContext"]
    # the same Secret, the same file
    env = env_of(pod)
    assert env["HUBDESK_DB_URL_FILE"] == default().env["HUBDESK_DB_URL_FILE"]
    ours, key = mounted_file(pod, env["HUBDESK_DB_URL_FILE"])
    theirs, their_key = default().mounted_file(default().env["HUBDESK_DB_URL_FILE"])
    assert (ours["secret"], key) == (theirs["secret"], their_key)
    unknown = sorted(set(env) - settings_hubdesk_reads())
    assert not unknown, f"the Job sets {unknown}, which hubdesk does not read"
    # hubdesk-db reads the database settings only
    settings = Settings.from_env(
        with_local_files(pod, default().resources, tmp_path), need_hub=False
    )
    assert settings.db_url == default().database_url()


def test_upgrade_job_pods_get_no_traffic():
    """Its pods are not hubdesk's: the Service (and hubdesk's budget) must not select them."""
    labels = upgrade_job()["spec"]["template"]["metadata"]["labels"]
    assert not default().the("Service")["spec"]["selector"].items() <= labels.items()
    assert not default().deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_hubdesk_db_is_a_console_script_of_the_image():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    assert upgrade_job()["spec"]["template"]["spec"]["containers"][0]["command"][0] in scripts


# -- Service and NetworkPolicy -------------------------------------------------------------


def hub_policy() -> dict:
    return default().the("NetworkPolicy", "hubdesk")["spec"]


def test_service_reaches_the_pods():
    service = default().the("Service")
    selector = service["spec"]["selector"]
    pods = default().deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pods.items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == PORT
    assert default().port_number(port["targetPort"]) == PORT


def release(settings: Path = SETTINGS) -> str:
    """The Helm release name the operator sets, once, in deploy/settings."""
    component = yaml.safe_load((settings / "kustomization.yaml").read_text("utf-8"))
    (generator,) = [g for g in component["configMapGenerator"] if g["name"] == "hubdesk-settings"]
    return dict(literal.split("=", 1) for literal in generator["literals"])["release"]


def chart_pod(component: str, release_name: str) -> dict[str, str]:
    """The labels zero-to-jupyterhub (4.1 and newer) sets on its hub and proxy pods, as its
    own selectors match them (templates/_helpers.tpl, jupyterhub.matchLabelsModern)."""
    return {
        "app.kubernetes.io/name": "jupyterhub",
        "app.kubernetes.io/instance": release_name,
        "app.kubernetes.io/component": component,
    }


def peers(policy: dict, direction: str) -> list[tuple[dict, list[int]]]:
    """(pod labels selected, ports) of each podSelector peer of a policy's ingress or egress."""
    side = "from" if direction == "ingress" else "to"
    return [
        (peer["podSelector"]["matchLabels"], [p["port"] for p in rule.get("ports", [])])
        for rule in policy.get(direction, [])
        for peer in rule.get(side, [])
        if "podSelector" in peer
    ]


def test_network_policy_lets_the_proxy_and_the_hub_in_on_port_8000():
    policy = hub_policy()
    pods = default().deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pods.items()
    assert "Ingress" in policy["policyTypes"]
    admitted = peers(policy, "ingress")
    # every browser request; the hub's check that its services answer
    for component in ("proxy", "hub"):
        assert (chart_pod(component, release()), [PORT]) in admitted, component


def test_network_policy_lets_hubdesk_out_to_the_hub_and_dns():
    policy = hub_policy()
    assert "Egress" in policy["policyTypes"]
    assert (chart_pod("hub", release()), [8081]) in peers(policy, "egress")
    dns = [(p["protocol"], p["port"]) for rule in policy["egress"] for p in rule.get("ports", [])]
    assert ("UDP", 53) in dns and ("TCP", 53) in dns


def test_network_policy_selects_by_the_charts_labels_and_one_release(variant):
    """The chart's app.kubernetes.io/* labels (its old app/release/component ones are marked
    for removal), with the release from deploy/settings in every selector."""
    policy = variant.the("NetworkPolicy", "hubdesk")["spec"]
    selected = [labels for labels, _ in peers(policy, "ingress") + peers(policy, "egress")]
    assert selected
    for labels in selected:
        assert labels in (chart_pod("proxy", release()), chart_pod("hub", release())), labels
    # the file itself holds a stand-in, so that nobody edits the release there
    (raw,) = documents(MANIFESTS / "networkpolicy.yaml")
    assert release() not in yaml.safe_dump(raw)


def test_one_edit_sets_the_release_and_the_image_everywhere(tmp_path):
    """Both variants and the Job take the release name and the image from deploy/settings."""
    deploy = tmp_path / "deploy"
    shutil.copytree(REPO / "deploy", deploy)
    settings = deploy / "settings" / "kustomization.yaml"
    component = yaml.safe_load(settings.read_text("utf-8"))
    (generator,) = component["configMapGenerator"]
    generator["literals"] = ["release=hub-of-physics"]
    (image,) = component["images"]
    image.update(newName="registry.example.org/team/hubdesk", newTag="9.9.9")
    settings.write_text(yaml.safe_dump(component), encoding="utf-8")
    for where in ("kubernetes", "kubernetes-sqlite", "jobs"):
        for resources in (build(deploy / where), kubectl_build(deploy / where)):
            if resources is None:
                continue  # no kubectl here
            images = [c["image"] for pod in pod_specs(resources) for c in pod["containers"]]
            assert images == ["registry.example.org/team/hubdesk:9.9.9"], where
            for policy in [r["spec"] for r in resources if r["kind"] == "NetworkPolicy"]:
                for labels, _ in peers(policy, "ingress") + peers(policy, "egress"):
                    assert labels["app.kubernetes.io/instance"] == "hub-of-physics", where
            # the settings themselves are never sent to the cluster
            assert not [r for r in resources if r["metadata"]["name"] == "hubdesk-settings"]


DOCUMENTS = [
    REPO / "README.md",
    *sorted((REPO / "deploy").rglob("*.md")),
    *sorted((REPO / "deploy").rglob("*.yaml")),
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_deploy_path_a_document_names_exists(document):
    """A comment or a page naming deploy/... names a file or folder that is there (kubectl's
    `deploy/<Deployment>`, e.g. `kubectl exec deploy/hubdesk`, is no path)."""
    named = re.findall(r"deploy/[\w./-]*[\w/]", document.read_text(encoding="utf-8"))
    deployments = {"deploy/hub", f"deploy/{default().deployment['metadata']['name']}"}
    missing = sorted({n for n in named if not (REPO / n).exists()} - deployments)
    assert not missing, f"{document.name} names {missing}"


def test_gitops_operators_are_told_to_set_the_api_token():
    """Rendered without a cluster (helm template, Argo CD), the chart cannot look up the
    token it keeps in its Secret and makes a new one at each render: say so where the
    token is explained."""
    values = VALUES.read_text(encoding="utf-8")
    guide = (REPO / "deploy" / "README.md").read_text(encoding="utf-8")
    for text in (values, guide):
        assert "helm template" in text and "Argo CD" in text and "lookup" in text
        assert "apiToken" in text


# -- the zero-to-jupyterhub values fragment ------------------------------------------------


def values() -> dict:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def test_values_register_the_service_at_hubdesks_address():
    services = values()["hub"]["services"]
    assert list(services) == [SERVICE_NAME] == [default().env["JUPYTERHUB_SERVICE_NAME"]]
    service = services[SERVICE_NAME]
    the_service = default().the("Service")
    name, port = the_service["metadata"]["name"], the_service["spec"]["ports"][0]["port"]
    assert service["url"] == f"http://{name}:{port}"
    assert service["oauth_no_confirm"] is True
    # the chart generates the token and keeps it in its `hub` Secret
    assert "api_token" not in service and "apiToken" not in service


def test_values_allowed_scopes_are_hubdesks():
    service = values()["hub"]["services"][SERVICE_NAME]
    assert service["oauth_client_allowed_scopes"] == OAUTH_CLIENT_ALLOWED_SCOPES


def test_values_roles_are_the_readmes():
    roles = values()["hub"]["loadRoles"]
    expected = {role["name"]: role for role in hub_roles()}
    assert set(roles) == set(expected)

    service_role = roles[f"{SERVICE_NAME}-service"]
    assert service_role["scopes"] == SERVICE_SCOPES
    assert service_role["services"] == [SERVICE_NAME]
    # least privilege: not "tantamount to superuser" (what it would buy is optional)
    assert "admin:users" not in service_role["scopes"]

    for name, role in roles.items():
        assert role["scopes"] == expected[name]["scopes"], name
    for name in set(roles) - {f"{SERVICE_NAME}-service"}:
        assert f"access:services!service={SERVICE_NAME}" in roles[name]["scopes"]
        assert roles[name]["users"] or roles[name].get("groups"), name


def test_the_readmes_service_role_is_the_least_privilege_one():
    """The role in the README's jupyterhub_config.py is the values fragment's, the devhub's
    SERVICE_SCOPES; each scope it leaves out is listed with what it buys."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("c.JupyterHub.load_roles = [") :]
    block = block[: block.index("```")]
    roles = ast.literal_eval(block.partition("=")[2].strip())
    (service,) = [r for r in roles if r["name"] == f"{SERVICE_NAME}-service"]
    assert service["scopes"] == SERVICE_SCOPES
    optional = readme[readme.index("#### What the optional scope buys") :]
    optional = optional[: optional.index("\n## ")]
    for scope in OPTIONAL_SERVICE_SCOPES:
        assert scope not in SERVICE_SCOPES
        assert f"| `{scope}` |" in optional, scope
