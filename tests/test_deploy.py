"""The Kubernetes deployment in deploy/: valid manifests, and the facts that make it work.

Every manifest under deploy/kubernetes/ is validated offline by kubernetes-validate
(it ships the API schemas) against one fixed Kubernetes version, in strict mode, so
an unknown or misspelt field fails. The rest checks what a schema cannot: that the
pieces agree with each other and with hubdesk itself (the settings it reads, its
health paths, the scopes in app.devhub), so a renamed setting or a changed scope
breaks this test rather than a production rollout.
"""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from app.config import ConfigError, Settings
from app.devhub import OAUTH_CLIENT_ALLOWED_SCOPES, SERVICE_NAME, SERVICE_SCOPES, hub_roles
from app.profiles import parse as parse_profiles

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "deploy" / "kubernetes"
VALUES = REPO / "deploy" / "z2jh" / "values.yaml"
KUSTOMIZATION = MANIFESTS / "kustomization.yaml"
# the settings hubdesk reads: a variable the Deployment sets must appear in one of these
SETTINGS_SOURCES = [REPO / "app" / "config.py", REPO / "app" / "gunicorn_conf.py"]

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
    """Every resource, read once (tests must not change them: deep-copy first)."""
    return [(path, doc) for path in manifest_files() for doc in documents(path)]


def the(kind: str) -> dict:
    """The one resource of this kind in deploy/kubernetes/."""
    found = [doc for _, doc in all_resources() if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind} in {MANIFESTS}, found {len(found)}"
    return found[0]


def container() -> dict:
    containers = the("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env() -> dict[str, str]:
    return {item["name"]: item["value"] for item in container()["env"]}


def volume(name: str) -> dict:
    (found,) = [
        v for v in the("Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == name
    ]
    return found


def mounted_file(path: str) -> tuple[dict, str]:
    """The volume a file path in the container comes from, and its key (item path) in it."""
    for mount in container()["volumeMounts"]:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            return volume(mount["name"]), path[len(prefix) :]
    raise AssertionError(f"{path} is on no mounted volume")


def port_number(port) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    (found,) = [p["containerPort"] for p in container()["ports"] if p["name"] == port]
    return found


# -- schema validation --------------------------------------------------------------------


def test_the_kubernetes_version_is_one_kubernetes_validate_ships():
    assert KUBERNETES_VERSION in kubernetes_validate.utils.all_versions(), (
        f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for "
        f"Kubernetes {KUBERNETES_VERSION}"
    )


@pytest.mark.parametrize(
    "path, resource",
    [pytest.param(p, d, id=f"{p.name}:{d['kind']}") for p, d in all_resources()],
)
def test_manifest_is_valid_kubernetes(path, resource):
    # strict: a field the API does not know (a typo, a wrong nesting level) is an error
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        where = ".".join(str(p) for p in e.path)
        pytest.fail(f"{path.name}: {resource['kind']} {where}: {e.message}")


def test_strict_validation_catches_an_unknown_field():
    """The validator is not vacuous: a misspelt field in the Deployment fails."""
    broken = copy.deepcopy(the("Deployment"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_manifest_file_holds_resources_and_one_kind_each():
    kinds = {}
    for path in manifest_files():
        docs = documents(path)
        assert docs, f"{path.name} holds no resource"
        assert len({d["kind"] for d in docs}) == 1, f"{path.name} mixes kinds"
        kinds.setdefault(docs[0]["kind"], []).append(path.name)
    expected = {
        "Deployment",
        "Service",
        "NetworkPolicy",
        "Secret",
        "ConfigMap",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
    }
    assert set(kinds) == expected
    assert all(len(files) == 1 for files in kinds.values()), kinds


def test_kustomization_builds_with_kubectl():
    """What `kubectl apply -k` would send: every resource, once (kubectl's own kustomize)."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl is not installed (the resource list is still checked, below)")
    built = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    sent = sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(built.stdout))
    assert sent == sorted((d["kind"], d["metadata"]["name"]) for _, d in all_resources())


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), "a manifest is listed twice"
    assert sorted(resources) == [p.name for p in manifest_files()]
    # the namespace is the operator's: the hub's, whatever they called it
    assert "namespace" not in kustomization


# -- the Deployment -----------------------------------------------------------------------


def test_deployment_runs_at_least_two_replicas_that_match_its_selector():
    deployment = the("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_pods_may_reach_the_hub():
    """zero-to-jupyterhub's hub NetworkPolicy admits pods with this exact label and value."""
    labels = the("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert labels.get("hub.jupyter.org/network-access-hub") == "true"


def test_container_is_locked_down():
    pod = the("Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container()["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 1000  # the image's USER
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    # the mounted secrets: readable by the pod's group (the files belong to root), not by others
    assert pod["securityContext"]["fsGroup"] == security["runAsGroup"]
    for name in ("api-token", "session"):
        mode = volume(name)["secret"]["defaultMode"]
        assert mode & 0o040 and not mode & 0o007, f"{name}: mode {mode:o}"
    # a read-only root needs a writable /tmp
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    assert "emptyDir" in volume(mounts["/tmp"])


def test_container_has_requests_and_limits():
    resources = container()["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert {"cpu", "memory"} <= resources["limits"].keys()


def test_probes_point_at_the_health_endpoints():
    assert [p["containerPort"] for p in container()["ports"]] == [PORT]
    readiness = container()["readinessProbe"]["httpGet"]
    liveness = container()["livenessProbe"]["httpGet"]
    # readiness follows the hub (503 when it does not answer); liveness never does
    assert readiness["path"] == f"{PREFIX}health"
    assert liveness["path"] == f"{PREFIX}health/live"
    assert port_number(readiness["port"]) == PORT
    assert port_number(liveness["port"]) == PORT
    if "startupProbe" in container():
        startup = container()["startupProbe"]["httpGet"]
        assert startup["path"] == f"{PREFIX}health/live"
        assert port_number(startup["port"]) == PORT


def test_health_paths_are_hubdesks():
    """The probed paths are hubdesk's: liveness answers without a hub, readiness does not."""
    from app import create_app

    app = create_app(
        {
            "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",
            "JUPYTERHUB_API_TOKEN": "x" * 32,
            "HUBDESK_SECRET_KEY": "0123456789abcdef" * 4,
            "JUPYTERHUB_SERVICE_PREFIX": env()["JUPYTERHUB_SERVICE_PREFIX"],
        }
    )
    client = app.test_client()
    live = client.get(container()["livenessProbe"]["httpGet"]["path"])
    assert live.status_code == 200
    # nothing listens on the hub's address here: not ready, and saying why
    ready = client.get(container()["readinessProbe"]["httpGet"]["path"])
    assert ready.status_code == 503
    assert ready.get_json()["hub"] == "down"


def test_api_token_comes_from_the_charts_hub_secret():
    source, key = mounted_file(env()["HUBDESK_API_TOKEN_FILE"])
    secret = source["secret"]
    assert secret["secretName"] == "hub"
    assert {"key": f"hub.services.{SERVICE_NAME}.apiToken", "path": key} in secret["items"]
    assert "JUPYTERHUB_API_TOKEN" not in env()


def test_secret_key_comes_from_the_session_secret():
    source, key = mounted_file(env()["HUBDESK_SECRET_KEY_FILE"])
    secret = the("Secret")
    assert source["secret"]["secretName"] == secret["metadata"]["name"] == "hubdesk-session"
    (item,) = [i for i in source["secret"]["items"] if i["path"] == key]
    assert item["key"] in secret["stringData"]
    assert "HUBDESK_SECRET_KEY" not in env()


def test_session_secret_is_a_placeholder_hubdesk_refuses(tmp_path):
    """A forgotten placeholder stops hubdesk at start-up instead of signing with a public key."""
    (value,) = the("Secret")["stringData"].values()
    key_file = tmp_path / "secret-key"
    key_file.write_text(value)
    config = {
        "JUPYTERHUB_API_URL": "http://hub:8081/hub/api",
        "JUPYTERHUB_API_TOKEN": "x" * 32,
        "HUBDESK_SECRET_KEY_FILE": str(key_file),
    }
    with pytest.raises(ConfigError, match="HUBDESK_SECRET_KEY is too short"):
        Settings.from_env(config)


def test_every_env_var_is_a_setting_hubdesk_reads():
    source = "\n".join(p.read_text(encoding="utf-8") for p in SETTINGS_SOURCES)
    read = set(re.findall(r"""["']((?:JUPYTERHUB|HUBDESK)_[A-Z0-9_]+)["']""", source))
    unknown = sorted(set(env()) - read)
    assert not unknown, f"the Deployment sets {unknown}, which hubdesk does not read"


def test_settings_from_the_deployment_are_accepted(tmp_path):
    """hubdesk's own config loader takes the Deployment's environment as it is.

    Mounted files are recreated under tmp_path: the profile catalogue from the
    ConfigMap, a token and a secret key in place of the Secrets.
    """
    contents = {
        "hub": "t" * 64,
        "hubdesk-session": "0123456789abcdef" * 4,
        "hubdesk-profiles": the("ConfigMap")["data"],
    }
    config = {}
    for name, value in env().items():
        if value.startswith("/etc/"):
            source, key = mounted_file(value)
            ref = source.get("secret", {}).get("secretName") or source["configMap"]["name"]
            (item,) = [i["key"] for i in (source.get("secret") or source["configMap"])["items"]]
            data = contents[ref]
            local = tmp_path / name / key
            local.parent.mkdir(parents=True)
            local.write_text(data[item] if isinstance(data, dict) else data, encoding="utf-8")
            value = str(local)
        config[name] = value
    settings = Settings.from_env(config)
    assert settings.service_name == SERVICE_NAME
    assert settings.service_prefix == PREFIX
    assert settings.client_id == f"service-{SERVICE_NAME}"
    assert settings.oauth_callback_url == f"{PREFIX}oauth_callback"
    assert settings.api_url == "http://hub:8081/hub/api"
    assert [p.slug for p in settings.profiles] == ["small", "gpu"]
    # the state directory is the shared volume
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    state = volume(mounts[settings.state_dir])
    assert (
        state["persistentVolumeClaim"]["claimName"]
        == the("PersistentVolumeClaim")["metadata"]["name"]
    )


def test_gunicorn_listens_where_the_probes_and_service_look():
    assert env()["HUBDESK_BIND"] == f"0.0.0.0:{PORT}"
    assert env()["HUBDESK_FORWARDED_ALLOW_IPS"] == "*"
    # behind the chart's proxy X-Forwarded-Proto can read "https,http": do not rely on it
    assert env()["HUBDESK_SECURE_COOKIES"] == "true"


def test_profiles_configmap_is_a_catalogue_hubdesk_accepts():
    data = yaml.safe_load(the("ConfigMap")["data"]["profiles.yaml"])
    profiles = parse_profiles(data)
    assert [p.slug for p in profiles] == ["small", "gpu"]
    assert [p.slug for p in profiles if p.default] == ["small"]
    # KubeSpawner picks a profile from user_options["profile"]
    assert all(p.user_options == {"profile": p.slug} for p in profiles)


def test_state_volume_is_shared_by_the_replicas():
    claim = the("PersistentVolumeClaim")
    if the("Deployment")["spec"]["replicas"] > 1:
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_disruption_budget_keeps_one_pod():
    budget = the("PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 1
    assert budget["selector"] == the("Deployment")["spec"]["selector"]


# -- Service and NetworkPolicy -------------------------------------------------------------


def test_service_reaches_the_pods():
    service = the("Service")
    selector = service["spec"]["selector"]
    assert selector.items() <= the("Deployment")["spec"]["template"]["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == PORT
    assert port_number(port["targetPort"]) == PORT


def test_network_policy_lets_the_proxy_in_on_port_8000():
    policy = the("NetworkPolicy")["spec"]
    pods = the("Deployment")["spec"]["template"]["metadata"]["labels"]
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
    policy = the("NetworkPolicy")["spec"]
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
    policy = the("NetworkPolicy")["spec"]
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
    assert list(services) == [SERVICE_NAME] == [env()["JUPYTERHUB_SERVICE_NAME"]]
    service = services[SERVICE_NAME]
    name, port = the("Service")["metadata"]["name"], the("Service")["spec"]["ports"][0]["port"]
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
