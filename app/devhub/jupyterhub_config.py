# JupyterHub configuration for hubdesk's embedded demo hub and its test suite.
#
# Everything that varies (ports, services, users, groups, roles) comes from a JSON
# file named by HUBDESK_DEVHUB_SETTINGS, written by hubdesk.devhub.write_settings().
# Loopback only, DummyAuthenticator, named servers on, and the mock single-user
# server that ships inside the jupyterhub wheel, so spawns are real and fast.
import asyncio
import json
import os
import sys

from jupyterhub.spawner import SimpleLocalProcessSpawner

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

with open(os.environ["HUBDESK_DEVHUB_SETTINGS"], encoding="utf-8") as f:
    s = json.load(f)

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = s["public_port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = s["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = s["proxy_command"]
c.ConfigurableHTTPProxy.auth_token = s["proxy_auth_token"]
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.cookie_secret_file = os.path.join(s["root"], "jupyterhub_cookie_secret")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(s["root"], "jupyterhub.sqlite")
c.JupyterHub.pid_file = os.path.join(s["root"], "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.log_level = s.get("log_level", "INFO")

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = s["password"]
c.Authenticator.allowed_users = set(s["users"])
c.Authenticator.admin_users = set(s["admin_users"])


class DemoSpawner(SimpleLocalProcessSpawner):
    """The mock single-user server, with two demo profiles: "slow" and "broken"."""

    async def start(self):
        profile = (self.user_options or {}).get("profile")
        self._demo_progress = 0
        if profile == "broken":
            raise RuntimeError("the “broken” demo profile never starts")
        if profile == "slow":
            for step in range(1, 4):
                self._demo_progress = step
                await asyncio.sleep(1)
        return await super().start()

    async def progress(self):
        if (self.user_options or {}).get("profile") != "slow":
            return
        for step in range(1, 4):
            while getattr(self, "_demo_progress", 0) < step:
                await asyncio.sleep(0.1)
            yield {"progress": 20 * step, "message": f"Preparing the demo server, step {step} of 3"}


c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = s.get("named_server_limit_per_user", 0)
c.JupyterHub.spawner_class = DemoSpawner
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(s["root"], "home", "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.tests.mocksu"]
c.Spawner.environment = {"HUBDESK_DEVHUB": s["marker"]}  # see LocalHub.stop()
c.Spawner.start_timeout = 30
# the hub shuts itself down after this many spawn failures in a row (0: never; z2jh sets 5)
c.Spawner.consecutive_failure_limit = s.get("consecutive_failure_limit", 0)
# answer a start request at once (202) instead of waiting up to 10 s for the spawn:
# the demo and the tests then watch every spawn come up through the progress stream
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}
c.Spawner.http_timeout = 30

c.JupyterHub.load_groups = s["groups"]
c.JupyterHub.load_roles = s["roles"]
for service in s["services"]:
    if "command" in service:
        service.setdefault("environment", {})["HUBDESK_DEVHUB"] = s["marker"]
c.JupyterHub.services = s["services"]
