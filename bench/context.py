"""What every scenario gets: its sizes (full or smoke), databases, and which services are there."""

from __future__ import annotations

import resource
from dataclasses import dataclass, field

from bench.databases import Databases, postgres_available, redis_available


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (children inherit it); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class Context:
    """Shared by the scenarios of one run."""

    smoke: bool = False
    engine: str = ""
    redis: bool = False
    fd_limit: int = 0
    overrides: dict = field(default_factory=dict)
    shared: dict = field(default_factory=dict)  # measurements one scenario lends a later one in the same run
    _databases: Databases | None = field(default=None, repr=False)

    @classmethod
    def create(cls, *, smoke: bool, engine: str | None = None, overrides: dict | None = None) -> Context:
        """Detect PostgreSQL and Redis; without PostgreSQL, Parley runs on SQLite files."""
        engine = engine or ("postgres" if postgres_available() else "sqlite")
        return cls(
            smoke=smoke, engine=engine, redis=redis_available(), fd_limit=raise_fd_limit(), overrides=overrides or {}
        )

    def params(self, scenario) -> dict:
        """The scenario module's SMOKE or FULL sizes, with any --set overrides it knows."""
        params = dict(scenario.SMOKE if self.smoke else scenario.FULL)
        params.update({k: v for k, v in self.overrides.items() if k in params or k in ("layers", "systems")})
        return params

    @property
    def databases(self) -> Databases:
        if self._databases is None:
            self._databases = Databases(self.engine)
        return self._databases

    def layers(self) -> list[str]:
        """Channel layers to measure: in-memory, and Redis when it answers."""
        return ["memory", "redis"] if self.redis else ["memory"]

    def close(self) -> None:
        if self._databases is not None:
            self._databases.close()
