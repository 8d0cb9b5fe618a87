"""The schema registry: which dataclass types each (group, option), and the allowed values several share."""

from __future__ import annotations

from collections.abc import Callable

from trainlab.config.ranges import Allowed, one_of

# (group, option) -> schema, stored as /schema/<group>/<option>: filled by @option below, and
# for options with no keys but their name, from the registries (MODELS, ACTIVATIONS).
SCHEMAS: dict[tuple[str, str], type] = {}


def option(group: str, *options: str) -> Callable[[type], type]:
    """Class decorator: the dataclass is the schema of ``group``'s ``options``."""

    def register(schema: type) -> type:
        for name in options:
            SCHEMAS[(group, name)] = schema
        return schema

    return register


MODE = one_of("min", "max")
METRIC = Allowed("a logged metric such as val/loss or val/acc", lambda v: isinstance(v, str) and "/" in v)
LOGGERS = ("tensorboard", "csv", "none")  # build.logger makes each
