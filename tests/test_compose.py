"""compose.yaml (README "Running for an institution") is consistent with the product: two
workers of the image the Dockerfile builds, the config mounted read-only, the state's password
and every secret taken from the environment (never written in the file), and a PostgreSQL whose
user, database and service name are the ones in the README's `state:` line, which loads."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

from bot.config import load_settings
from bot.state.backend import PostgresState

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:  # type: ignore[type-arg]
    return YAML(typ="safe").load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def _institution_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## Running for an institution", 1)[1].split("\n## ", 1)[0]


def test_two_workers_of_the_image_share_one_postgresql() -> None:
    services = _compose()["services"]
    workers = {name: s for name, s in services.items() if name.startswith("worker")}
    assert len(workers) == 2
    for worker in workers.values():
        assert worker["build"] == "."
        assert "command" not in worker and "entrypoint" not in worker  # the image, unchanged
        assert "./config:/app/config:ro" in worker["volumes"]
        assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_secrets_come_from_the_environment_only() -> None:
    compose = _compose()
    for service in compose["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if "PASSWORD" in name or "TOKEN" in name:
                assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*|:-)?\}", str(value)), (name, value)
    env = compose["services"]["worker-1"]["environment"]
    assert (
        env["DIGESTBOT_STATE_PASSWORD"]
        == compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    )


def test_the_readme_state_line_names_the_compose_database_and_loads(tmp_path: Path) -> None:
    section = _institution_section()
    [url] = set(re.findall(r"state: (postgresql://\S+@postgres:5432/\S+)", section))
    pg = _compose()["services"]["postgres"]["environment"]
    assert url == f"postgresql://{pg['POSTGRES_USER']}@postgres:5432/{pg['POSTGRES_DB']}"
    config = tmp_path / "bot.yaml"
    config.write_text(
        f"state: {url}\nstate_password_env: DIGESTBOT_STATE_PASSWORD\nprofiles: profiles/\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert isinstance(settings.state, PostgresState)
    assert settings.state_password_env in _compose()["services"]["worker-2"]["environment"]
