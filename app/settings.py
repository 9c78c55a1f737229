"""Settings from the environment (prefix ``DESCENTLAB_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESCENTLAB_")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_steps: int = 10_000
    max_runs: int = 64
    static_dir: Path = PROJECT_ROOT / "static"
    templates_dir: Path = PROJECT_ROOT / "templates"


@lru_cache
def get_settings() -> Settings:
    return Settings()
