"""compose.yaml, the Dockerfile and .env.example, checked as far as a machine without a
Docker engine allows: parsed, cross-referenced with each other and with the repository."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# contracts: the image lines the boards and the deployment are built for.
IMAGES = {
    "mosquitto": "eclipse-mosquitto:2.0.20",
    "influxdb": "influxdb:2.7",
    "grafana": "grafana/grafana:11.4.0",
    "postgres": "postgres:16",
}
RUN_COMMAND = ["lantai", "run", "--config", "/etc/lantai/settings.yaml"]
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET", re.IGNORECASE)
# ${VAR}, ${VAR:-default}, ${VAR:?error}; `$$` is compose's escape for a literal `$`.
REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}")
PLACEHOLDER = "change-me"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _env_example(*, commented: bool = False) -> dict[str, str]:
    """NAME=value lines of .env.example; with ``commented``, `# NAME=value` lines too."""
    pattern = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
    found = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = pattern.match(line)
        if match and (commented or match.group(1) is None):
            found[match.group(2)] = match.group(3)
    return found


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation, for the forms compose.yaml uses."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        text = match.group(0)
        if ":-" in text:
            return env.get(name) or text.split(":-", 1)[1][:-1]
        if name not in env:
            raise AssertionError(f"{name} is required but not set")
        return env[name]

    return REFERENCE.sub(one, value).replace("$$", "$")


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for entry in service.get("volumes", []):
        source, target, *mode = entry.split(":")
        out.append((source, target, mode[0] if mode else "rw"))
    return out


def test_the_stack_has_the_five_services_with_pinned_images() -> None:
    services = _services()
    assert set(services) == {*IMAGES, "lantai"}
    for name, image in IMAGES.items():
        assert services[name]["image"] == image
    assert not [s for s in services.values() if str(s.get("image", "")).endswith(":latest")]


@pytest.mark.parametrize("name", [*IMAGES, "lantai"])
def test_every_service_restarts_and_has_a_health_check(name: str) -> None:
    service = _services()[name]
    assert service["restart"] in {"unless-stopped", "always"}
    check = service["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert len(check["test"]) >= 2
    assert {"interval", "timeout", "retries", "start_period"} <= set(check)


def test_dependencies_wait_for_health() -> None:
    services = _services()
    assert set(services["lantai"]["depends_on"]) == {"mosquitto", "influxdb", "postgres"}
    assert set(services["grafana"]["depends_on"]) == {"influxdb"}
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in services[dependency]


def test_named_volumes_are_declared_and_used() -> None:
    compose = _compose()
    used = {
        source
        for service in compose["services"].values()
        for source, _target, _mode in _mounts(service)
        if not source.startswith((".", "/"))
    }
    assert used == set(compose["volumes"])


def test_bind_mounts_exist_in_the_repository_and_are_read_only() -> None:
    binds = [
        (name, source, target, mode)
        for name, service in _services().items()
        for source, target, mode in _mounts(service)
        if source.startswith(".")
    ]
    assert binds, "the stack mounts its config from the repository"
    for name, source, target, mode in binds:
        assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"
        assert mode == "ro", f"{name} mounts {source} at {target} writable"


def test_every_variable_compose_reads_is_in_env_example() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    referenced = set(REFERENCE.findall(text))
    example = _env_example()
    assert referenced - set(example) == set(), "add them to .env.example"
    # Pass-through variables (a key with no value) may stay commented out: they are optional.
    passed = {
        key
        for service in _services().values()
        for key, value in service.get("environment", {}).items()
        if value is None
    }
    assert passed <= set(_env_example(commented=True))
    assert set(_env_example(commented=True)) - referenced - passed == set(), "unused in compose"


def test_no_secret_is_committed() -> None:
    for name, service in _services().items():
        for key, value in service.get("environment", {}).items():
            if SECRET_NAME.search(key) or (isinstance(value, str) and "://" in value):
                assert value is None or REFERENCE.search(value), f"{name}.{key} has a literal"
    for key, value in _env_example(commented=True).items():
        if SECRET_NAME.search(key) and not key.endswith("_USER"):
            assert value == PLACEHOLDER, f".env.example {key} must be {PLACEHOLDER!r}"
    # .env and the generated secrets stay out of the image's build context.
    ignored = set(DOCKERIGNORE.read_text(encoding="utf-8").split())
    assert {".env", "secrets", "deploy"} <= ignored


def test_lantai_runs_the_repo_image_with_the_mounted_settings() -> None:
    lantai = _services()["lantai"]
    assert lantai["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert lantai["command"] == RUN_COMMAND
    config = Path(RUN_COMMAND[-1])
    mounts = {target: source for source, target, _mode in _mounts(lantai)}
    source = mounts[str(config.parent)]
    assert (ROOT / source / config.name).is_file()


def test_lantai_gets_the_contract_environment() -> None:
    env = {
        key: _interpolate(value, _env_example())
        for key, value in _services()["lantai"]["environment"].items()
        if value is not None
    }
    assert env["LANTAI_STATE__URL"] == (
        f"postgresql+psycopg://lantai:{PLACEHOLDER}@postgres:5432/lantai"
    )
    assert env["LANTAI_INFLUX__TOKEN"] == PLACEHOLDER
    assert env["LANTAI_MQTT__PASSWORD"] == PLACEHOLDER
    assert env["LANTAI_INFLUX__ORG"] == env["LANTAI_INFLUX__BUCKET"] == "lantai"
    grafana = _services()["grafana"]["environment"]
    influxdb = _services()["influxdb"]["environment"]
    # Grafana's provisioned data source reads what InfluxDB was set up with.
    same = {"INFLUXDB_TOKEN": "ADMIN_TOKEN", "INFLUXDB_ORG": "ORG", "INFLUXDB_BUCKET": "BUCKET"}
    for key, init in same.items():
        expected = _interpolate(influxdb[f"DOCKER_INFLUXDB_INIT_{init}"], _env_example())
        assert _interpolate(grafana[key], _env_example()) == expected


def test_every_lantai_variable_names_a_real_setting() -> None:
    """A typo in LANTAI_<SECTION>__<FIELD> would be ignored silently by pydantic-settings."""
    from lantai.settings import LantaiSettings  # noqa: PLC0415

    for key in _services()["lantai"]["environment"]:
        section, field = key.removeprefix("LANTAI_").lower().split("__")
        assert section in LantaiSettings.model_fields, key
        annotation = LantaiSettings.model_fields[section].annotation
        models = [a for a in getattr(annotation, "__args__", (annotation,)) if a is not type(None)]
        assert any(field in getattr(m, "model_fields", {}) for m in models), key


def test_compose_config_validates_where_the_client_exists() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client on this machine")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed (docker compose version failed)")
    done = subprocess.run(
        [docker, "compose", "--env-file", str(ENV_EXAMPLE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


# -- Dockerfile ------------------------------------------------------------------------------


def _instructions() -> tuple[dockerfile.Command, ...]:
    parsed: tuple[dockerfile.Command, ...] = dockerfile.parse_file(str(DOCKERFILE))
    return parsed


def _final_stage() -> list[dockerfile.Command]:
    commands = list(_instructions())
    last_from = max(i for i, c in enumerate(commands) if c.cmd == "FROM")
    return commands[last_from:]


def test_the_dockerfile_builds_on_the_contract_base() -> None:
    bases = [c.value[0] for c in _instructions() if c.cmd == "FROM"]
    assert bases
    assert all(base == "python:3.11-slim" for base in bases)


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    copies = [c for c in _instructions() if c.cmd == "COPY" and not c.flags]
    sources = [source for c in copies for source in c.value[:-1]]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source not in ignored, f"{source} is excluded by .dockerignore"
    # Every package pyproject.toml installs is copied in.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= set(sources)
    assert {"pyproject.toml", "README.md"} <= set(sources)


def test_the_image_installs_the_postgresql_extra() -> None:
    runs = " ".join(" ".join(c.value) for c in _instructions() if c.cmd == "RUN")
    assert "install '.[postgresql]'" in runs
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(
        dep.startswith("psycopg")
        for dep in pyproject["project"]["optional-dependencies"]["postgresql"]
    )


def test_the_image_runs_lantai_as_a_user_with_a_health_check() -> None:
    stage = _final_stage()
    users = [c.value[0] for c in stage if c.cmd == "USER"]
    assert users
    assert users[-1] not in {"root", "0"}
    assert [c for c in stage if c.cmd == "HEALTHCHECK"]
    cmd = [c for c in stage if c.cmd == "CMD"]
    assert [c.json for c in cmd] == [True]  # exec form: SIGTERM reaches lantai, not a shell
    assert list(cmd[0].value) == RUN_COMMAND == _services()["lantai"]["command"]
    assert not [c for c in stage if c.cmd == "ENTRYPOINT"]


def test_grafana_gets_every_variable_its_provisioning_reads() -> None:
    grafana = _services()["grafana"]
    provisioning = next(
        ROOT / source
        for source, target, _mode in _mounts(grafana)
        if target == "/etc/grafana/provisioning"
    )
    # Grafana expands $NAME and ${NAME} in provisioning files from its environment.
    wanted = {
        name
        for path in provisioning.rglob("*.yaml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
        for name in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", line)
    }
    assert wanted, "the data source takes its org, bucket and token from the environment"
    assert wanted <= set(grafana["environment"])
