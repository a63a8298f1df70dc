"""The octoDNS bridge for spfguard: write through any provider octoDNS supports, or into the zone files of an
octoDNS YAML repository (DNS as code).

Settings (``[providers.octodns]``): ``config`` (the octoDNS configuration file, relative paths in it are relative
to the current folder as for ``octodns-sync``), ``target`` (the name of a provider in its ``providers:``),
``zone`` (default: the configured zone whose name is the longest suffix of the record name), ``ttl`` (of a new
TXT set, default 3600). Credentials are the target's, as the octoDNS configuration reads them (``env/VAR``);
spfguard neither reads nor shows them.

A write is an octoDNS plan against the target: the zone is read through the target, the TXT sets at the changed
names are compared with the values the spfguard plan was made from (a mismatch: nothing written), the desired
zone is that same zone with only those sets replaced, and only the plan's changes at those names are applied (a
change elsewhere in the zone that appeared in the meantime is neither written nor reverted). The sets are read
back after. octoDNS writes unconditionally, so an edit of the same TXT set that lands between octoDNS's own read
for the plan and its write is overwritten: the window is that of one ``octodns-sync``.

With a ``YamlProvider`` target nothing live is touched: only the lines of the TXT values that change are edited
in the zone's YAML file (comments, key order and formatting kept — :mod:`spfguard_octodns.yamledit`; the result
is read back with octoDNS's loader before the file is replaced), and the user reviews and commits a diff of a
line or two; ``octodns-sync --doit`` publishes it. A split zone directory, or a change of values other than the
SPF record, falls back to octoDNS's own writer (its canonical form: sorted keys, no comments). octoDNS joins a TXT
value's character-strings and splits it again at 255 octets when it publishes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from spfguard.provider import (
    Change,
    ConflictError,
    Provider,
    ProviderError,
    SettingsError,
    first_line,
    same_values,
    zone_for,
)


def _raw(value: Any) -> str:
    """octoDNS's internal TXT text (semicolons escaped) -> the value itself."""
    return str(value).replace("\\;", ";")


def _internal(value: str) -> str:
    return value.replace(";", "\\;")


class OctoDnsProvider(Provider):
    name = "octodns"
    settings_keys = ("config", "target", "zone", "ttl")
    path_keys = ("config",)
    guarantee = "best-effort (read-compare before and after)"
    credentials = "the octoDNS target's own, as its configuration reads them (env/VAR in the octoDNS config)"

    def __init__(self, settings=None):
        super().__init__(settings)
        config, target = self.settings.get("config"), self.settings.get("target")
        if not config or not target:
            raise ProviderError("octodns: set [providers.octodns] config = \"octodns.yaml\" and target = \"NAME\" "
                                "(a provider of that configuration)")
        if not os.path.isfile(config):
            raise ProviderError(f"octodns: the configuration {config} does not exist")
        self._manager = None
        self._target = None

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "config": str(self.settings["config"]), "target": self.settings["target"]}

    def __repr__(self) -> str:
        return f"OctoDnsProvider(target={self.settings['target']!r})"

    # ---- octoDNS ---------------------------------------------------------------------------------------

    @property
    def manager(self):
        if self._manager is None:
            from octodns.manager import Manager

            try:
                self._manager = Manager(str(self.settings["config"]))
            except Exception as err:  # noqa: BLE001 - octoDNS raises many kinds for a bad configuration
                raise ProviderError(f"octodns: {self.settings['config']}: {first_line(err)}") from None
            name = str(self.settings["target"])
            if name not in self._manager.providers:
                raise SettingsError(f"octodns: no provider named {name!r} in {self.settings['config']} (it has: "
                                    f"{', '.join(sorted(self._manager.providers))})")
            self._target = self._manager.providers[name]
        return self._manager

    @property
    def target(self):
        _ = self.manager  # loads the configuration, and the target with it
        return self._target

    @property
    def writes_yaml(self) -> bool:
        from octodns.provider.yaml import YamlProvider

        return isinstance(self.target, YamlProvider)

    def _octodns(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ProviderError, ConflictError):
            raise
        except Exception as err:  # noqa: BLE001 - whatever the target's SDK raises, in one line
            raise ProviderError(f"octodns: {what} through {self.settings['target']!r}: {first_line(err)}") from None

    def list_zones(self) -> list[str]:
        return sorted(z.rstrip(".").lower() for z in self.manager.config["zones"])

    def zone_of(self, name: str) -> str:
        if self.settings.get("zone"):
            return str(self.settings["zone"]).rstrip(".").lower()
        zone = zone_for(name, self.list_zones())
        if zone is None:
            raise ProviderError(f"octodns: no zone for {name} in {self.settings['config']}")
        return zone

    def _read_zone(self, zone: str):
        """The zone as the target holds it now."""
        existing = self._octodns(f"reading {zone}", self.manager.get_zone, zone + ".")
        self._octodns(f"reading {zone}", self.target.populate, existing, target=True, lenient=True)
        return existing

    @staticmethod
    def _relative(name: str, zone: str) -> str:
        fqdn = name.rstrip(".").lower()
        return "" if fqdn == zone else fqdn.removesuffix("." + zone)

    def _values(self, existing, name: str, zone: str) -> list[str]:
        record = existing.get_type(self._relative(name, zone), "TXT")
        return [_raw(v) for v in record.values] if record else []

    # ---- the contract ----------------------------------------------------------------------------------

    def read_txt(self, name: str) -> list[str]:
        zone = self.zone_of(name)
        return self._values(self._read_zone(zone), name, zone)

    def read_txt_many(self, names) -> dict[str, list[str]]:
        """One populate of each zone for all its names (octoDNS reads a zone whole)."""
        zones: dict[str, object] = {}
        out = {}
        for name in names:
            zone = self.zone_of(name)
            if zone not in zones:
                zones[zone] = self._read_zone(zone)
            out[name] = self._values(zones[zone], name, zone)
        return out

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        return [(v,) for v in self.read_txt(name)]  # octoDNS keeps no layout: each value whole

    def _edit_yaml(self, zone: str, changes: Sequence[Change]) -> bool:
        """The changes as line edits of the zone's YAML file; False when they cannot be (octoDNS writes then)."""
        from octodns.yaml import safe_load

        from spfguard_octodns.yamledit import NotEditable, edit_zone_text

        target = self.target
        path = os.path.join(target.directory, f"{zone}.yaml")
        if getattr(target, "split_extension", None) or not os.path.isfile(path):
            return False
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        try:
            edited = edit_zone_text(text, zone, changes, bool(getattr(target, "escaped_semicolons", True)))
        except NotEditable:
            return False
        loaded = safe_load(edited, enforce_order=target.enforce_order, order_mode=target.order_mode) or {}
        for change in changes:  # read back with octoDNS's own loader before the file is replaced
            relative = self._relative(change.name, zone)
            node = loaded.get(relative)
            records = node if isinstance(node, list) else [node] if node else []
            found = [[_raw(v) for v in (r.get("values") or [r.get("value")])] for r in records
                     if str(r.get("type", "")).upper() == "TXT"]
            if not same_values(found[0] if found else [], change.after):
                raise ProviderError(f"octodns: editing {path} would not give {change.name} the planned values: "
                                    "nothing written")
        temporary = f"{path}.spfguard-tmp"
        with open(temporary, "w", encoding="utf-8") as fh:
            fh.write(edited)
        os.replace(temporary, path)
        return True

    def _apply(self, zone: str, changes: Sequence[Change]) -> None:
        from octodns.provider.plan import Plan
        from octodns.record import Record

        if self.writes_yaml:
            existing = self._read_zone(zone)
            for change in changes:
                values = self._values(existing, change.name, zone)
                if not same_values(values, change.before):
                    raise ConflictError(change.name, change.before, values)
            if self._edit_yaml(zone, changes):
                self.read_back(changes)
                return
        existing = self._read_zone(zone)
        desired = existing.copy()
        names = set()
        for change in changes:
            values = self._values(existing, change.name, zone)
            if not same_values(values, change.before):
                raise ConflictError(change.name, change.before, values)
            relative = self._relative(change.name, zone)
            names.add(relative)
            old = existing.get_type(relative, "TXT")
            if old is not None:
                desired.remove_record(old)
            if change.after:
                ttl = old.ttl if old is not None else int(self.settings.get("ttl", 3600))
                record = self._octodns(f"writing {change.name}", Record.new, desired, relative, {
                    "type": "TXT", "ttl": ttl, "values": [_internal(v) for v in change.after]})
                desired.add_record(record, replace=True, lenient=True)
        plan = self._octodns(f"planning {zone}", self.target.plan, desired)
        if plan is None:
            return  # the target already holds exactly this
        for change in changes:  # octoDNS read the zone again for its plan: compare once more, as late as it gets
            values = self._values(plan.existing, change.name, zone)
            if not same_values(values, change.before):
                raise ConflictError(change.name, change.before, values)
        ours = [c for c in plan.changes if c.record._type == "TXT" and c.record.name in names]
        if ours:
            self._octodns(f"writing the changes of {zone}", self.target.apply,
                          Plan(plan.existing, plan.desired, ours, plan.exists))
        self.read_back(changes)

    def pending_publication(self) -> str | None:
        if not self.writes_yaml:
            return None
        return (f"written to the YAML of {self.settings['target']!r} ({self.target.directory}), not to DNS: review "
                f"and commit it; `octodns-sync --config-file {self.settings['config']} --doit` publishes it")

