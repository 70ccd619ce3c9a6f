"""The Kubernetes deployment in deploy/: valid manifests, and the facts that make it work.

Two variants, each what `kubectl apply -k` sends: deploy/kubernetes/ (two replicas sharing
a PostgreSQL database) and deploy/kubernetes-sqlite/ (an overlay of it: one replica, SQLite
on a ReadWriteOnce claim). The overlay is built here offline, by a small strategic merge
that knows what the overlay uses; where kubectl is installed, a test checks that kubectl's
own kustomize builds the same. The optional Job in deploy/jobs/ is checked too.

Every resource is validated offline by kubernetes-validate (it ships the API schemas)
against one fixed Kubernetes version, in strict mode, so an unknown or misspelt field
fails. The rest checks what a schema cannot: that the pieces agree with each other and
with hubdesk itself (the settings it reads, its health paths, the scopes in app.devhub),
so a renamed setting or a changed scope breaks this test rather than a production rollout.
"""

from __future__ import annotations

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
from sqlalchemy.engine import make_url

from app.config import ConfigError, Settings
from app.devhub import OAUTH_CLIENT_ALLOWED_SCOPES, SERVICE_NAME, SERVICE_SCOPES, hub_roles
from app.profiles import parse as parse_profiles

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "deploy" / "kubernetes"
SQLITE = REPO / "deploy" / "kubernetes-sqlite"
UPGRADE_JOB = REPO / "deploy" / "jobs" / "db-upgrade.yaml"
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
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "resources", "patches"}


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
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    assert not unknown, f"{directory.name}: build() knows no {sorted(unknown)}: teach it"
    resources = []
    for entry in kustomization["resources"]:
        path = directory / entry
        resources += build(path) if path.is_dir() else documents(path)
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
    return resources


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
        "kubernetes": Variant("kubernetes", MANIFESTS, tuple(d for _, d in all_resources())),
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
    (job,) = documents(UPGRADE_JOB)
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
    [pytest.param(p.name, d, id=f"{p.name}:{d['kind']}") for p, d in all_resources()]
    + [
        pytest.param(SQLITE.name, d, id=f"{SQLITE.name}:{d['kind']}:{d['metadata']['name']}")
        for d in build(SQLITE)
    ]
    + [
        pytest.param(UPGRADE_JOB.name, d, id=f"{UPGRADE_JOB.name}:{d['kind']}")
        for d in documents(UPGRADE_JOB)
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


@pytest.mark.parametrize("directory", [MANIFESTS, SQLITE], ids=lambda d: d.name)
def test_kustomization_builds_with_kubectl(directory):
    """What `kubectl apply -k` would send: exactly what these tests check (kubectl's kustomize)."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl is not installed (the offline build is checked all the same)")
    built = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    sent = [d for d in yaml.safe_load_all(built.stdout) if d]
    (checked,) = [v for v in variants().values() if v.directory == directory]
    assert normalized(sent) == normalized(checked.resources)


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), "a manifest is listed twice"
    assert sorted(resources) == [p.name for p in manifest_files()]
    # the namespace is the operator's: the hub's, whatever they called it
    assert "namespace" not in kustomization


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
    from app import create_app

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


def test_network_policy_lets_the_proxy_in_on_port_8000():
    policy = hub_policy()
    pods = default().deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pods.items()
    assert "Ingress" in policy["policyTypes"]

    def admits(component):
        for rule in policy["ingress"]:
            peers = [
                p["podSelector"]["matchLabels"] for p in rule.get("from", []) if "podSelector" in p
            ]
            ports = [p["port"] for p in rule.get("ports", [])]
            if PORT in ports and any(
                peer.get("app") == "jupyterhub" and peer.get("component") == component
                for peer in peers
            ):
                return True
        return False

    assert admits("proxy")  # every browser request
    assert admits("hub")  # the hub's check that its services answer


def test_network_policy_lets_hubdesk_out_to_the_hub_and_dns():
    policy = hub_policy()
    if "Egress" not in policy["policyTypes"]:
        return
    hub = [
        rule
        for rule in policy["egress"]
        if any(
            p.get("podSelector", {}).get("matchLabels", {}).get("component") == "hub"
            for p in rule.get("to", [])
        )
    ]
    assert any(8081 in [p["port"] for p in rule["ports"]] for rule in hub)
    dns = [(p["protocol"], p["port"]) for rule in policy["egress"] for p in rule.get("ports", [])]
    assert ("UDP", 53) in dns and ("TCP", 53) in dns


def test_network_policy_selects_one_release_everywhere():
    """The release label (the operator edits it) is the same in every peer selector."""
    policy = hub_policy()
    peers = [
        peer["podSelector"]["matchLabels"]
        for rule in policy["ingress"] + policy.get("egress", [])
        for peer in rule.get("from", []) + rule.get("to", [])
        if "podSelector" in peer
    ]
    assert len({p.get("release") for p in peers}) == 1


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

    for name, role in roles.items():
        assert role["scopes"] == expected[name]["scopes"], name
    for name in set(roles) - {f"{SERVICE_NAME}-service"}:
        assert f"access:services!service={SERVICE_NAME}" in roles[name]["scopes"]
        assert roles[name]["users"] or roles[name].get("groups"), name
