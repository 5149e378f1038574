"""A study: named series of ablations, each with its number of seeds (conf/study/<name>.yaml).

`t2i sweep +study=NAME` runs it; the figure's legend and every table list series in its order. A study
is read here rather than composed into a run's config because it describes a set of runs, not one run.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import OmegaConf

from t2i.config import CONF_DIR, ConfigError, available

DEFAULT = "reference"


@dataclass(frozen=True)
class Study:
    name: str
    sweep_name: str
    budget: str
    seeds: dict[str, int]  # series (ablation name) -> number of seeds, in the study's order

    @property
    def series(self) -> list[str]:
        return list(self.seeds)

    def rank(self, series: str) -> tuple[int, str]:
        """Sort key: the study's series in its order, then any others alphabetically."""
        return (self.series.index(series) if series in self.seeds else len(self.seeds), series)

    def multiruns(self) -> list[list[str]]:
        """Hydra multirun overrides covering every (series, seed) once: one multirun per seed count, since a
        multirun is a product of its swept values."""
        by_count: dict[int, list[str]] = {}
        for series, count in self.seeds.items():
            by_count.setdefault(count, []).append(series)
        return [
            [f"+ablation={','.join(map(_ablations, names))}", "seed=" + ",".join(map(str, range(count)))]
            for count, names in by_count.items()
        ]


def _ablations(series: str) -> str:
    """The +ablation value of a series: its name, or for a combination (a+b) the list [a,b], whose run is named
    a+b again (t2i/config.py's series name joins the merged series' keys)."""
    return f"[{series.replace('+', ',')}]" if "+" in series else series


def load(name: str = DEFAULT) -> Study:
    path = CONF_DIR / "study" / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown study {name!r} (available: {', '.join(available('study'))})")
    data = OmegaConf.to_container(OmegaConf.load(path))
    seeds = data.get("series") or {}
    if not all(isinstance(n, int) and n >= 1 for n in seeds.values()):
        raise ConfigError(f"{path}: every series needs a whole number of seeds >= 1")
    return Study(name, str(data["sweep_name"]), str(data["budget"]), {str(k): v for k, v in seeds.items()})


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def multiruns(overrides: list[str]) -> list[list[str]]:
    """The Hydra multiruns `t2i sweep OVERRIDES` stands for.

    `+study=NAME` expands to the study's (series, seed) runs under its sweep name and budget (other
    overrides, e.g. budget=quick, still apply). Without a study or an ablation, the default study's
    series run with seed 0; anything else is one multirun as given.
    """
    named = [o for o in overrides if _key(o) == "study"]
    rest = [o for o in overrides if _key(o) != "study"]
    keys = {_key(o) for o in rest if "=" in o}
    if not named:
        if "ablation" in keys:
            return [rest]
        return [[*rest, f"+ablation={','.join(load().series)}"]]
    if len(named) > 1 or "," in named[0]:
        raise ConfigError("name one study: +study=NAME")
    if keys & {"ablation", "seed"}:
        raise ConfigError("+study sets the ablations and seeds; drop the ablation/seed overrides")
    study = load(named[0].split("=", 1)[1])
    defaults = [f"{k}={v}" for k, v in (("budget", study.budget), ("sweep.name", study.sweep_name)) if k not in keys]
    return [[*defaults, *rest, *sweep] for sweep in study.multiruns()]
