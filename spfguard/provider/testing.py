"""The contract every provider passes (see :mod:`spfguard.provider.base`), shipped in the package (as certbot
ships ``dns_test_common``) so that a provider written outside this repository can run it with pytest::

    from spfguard.provider.testing import ProviderContract

    class TestMyProvider(ProviderContract):
        ...

A provider's test module subclasses :class:`ProviderContract` and supplies three fixtures:

* ``provider`` — a provider for a zone the test may change;
* ``name`` — a fresh owner name inside that zone, with no TXT records yet;
* ``backdoor`` — ``backdoor(name, [values])`` sets the TXT values at a name behind the provider's back (another
  admin, another tool), straight in the backend.
"""

from __future__ import annotations

import pytest

from spfguard.provider.base import Change, ConflictError

LONG = "v=spf1 " + " ".join(f"ip4:198.51.100.{n}" for n in range(1, 30)) + " -all"  # > 255 bytes


class ProviderContract:
    secret: str = ""  # a secret the provider was configured with: it must never appear in messages
    exact_layout: bool = True  # False where the backend splits character-strings itself (Cloudflare)

    def test_missing_name_reads_empty(self, provider, name):
        assert provider.read_txt(name) == []

    def test_create_update_delete(self, provider, name):
        provider.apply([Change(name, (), ("v=spf1 -all",))])
        assert provider.read_txt(name) == ["v=spf1 -all"]
        provider.apply([Change(name, ("v=spf1 -all",), ("v=spf1 ~all",))])
        assert provider.read_txt(name) == ["v=spf1 ~all"]
        provider.apply([Change(name, ("v=spf1 ~all",), ())])
        assert provider.read_txt(name) == []

    def test_other_values_are_kept(self, provider, name, backdoor):
        backdoor(name, ["google-site-verification=abc", "v=spf1 -all"])
        provider.apply([Change(name, ("google-site-verification=abc", "v=spf1 -all"),
                               ("google-site-verification=abc", "v=spf1 ip4:192.0.2.1 -all"))])
        assert sorted(provider.read_txt(name)) == ["google-site-verification=abc", "v=spf1 ip4:192.0.2.1 -all"]

    def test_long_values_are_split_into_255_byte_strings(self, provider, name):
        provider.apply([Change(name, (), (LONG,))])
        assert provider.read_txt(name) == [LONG]
        if not self.exact_layout:
            return
        (strings,) = provider.read_txt_strings(name)
        assert len(strings) == -(-len(LONG) // 255) and all(len(s.encode()) <= 255 for s in strings)
        assert "".join(strings) == LONG

    def test_layout_is_kept_exactly(self, provider, name):
        strings = (LONG[:100], LONG[100:300], LONG[300:])
        provider.apply([Change(name, (), (LONG,), ((LONG, strings),))])
        assert provider.read_txt_strings(name) == ([strings] if self.exact_layout else [(LONG,)])

    def test_compare_and_set_aborts_and_writes_nothing(self, provider, name, backdoor):
        child = f"_spf1.{name}"
        backdoor(name, ["v=spf1 -all"])
        plan = [Change(child, (), ("v=spf1 ip4:192.0.2.0/24 -all",)),
                Change(name, ("v=spf1 -all",), ("v=spf1 include:" + child + " -all",))]
        backdoor(name, ["v=spf1 ~all"])  # somebody else edits between plan and apply
        with pytest.raises(ConflictError) as info:
            provider.apply(plan)
        assert name in str(info.value)
        assert provider.read_txt(child) == []  # not even the child was written
        assert provider.read_txt(name) == ["v=spf1 ~all"]

    def test_no_secret_in_description_or_errors(self, provider, name, backdoor):
        assert self.secret and self.secret not in repr(provider.describe())
        backdoor(name, ["v=spf1 ~all"])
        with pytest.raises(ConflictError) as info:
            provider.apply([Change(name, ("v=spf1 -all",), ("v=spf1 +all",))])
        assert self.secret not in str(info.value)

    def test_the_changes_of_a_zone_are_one_write(self, provider, name, backdoor):
        """A plan of several names that conflicts on the last one writes none of them."""
        first, second = f"_spf1.{name}", f"_spf2.{name}"
        backdoor(name, ["v=spf1 -all"])
        plan = [Change(second, (), ("v=spf1 ip4:192.0.2.2 -all",)), Change(first, (), ("v=spf1 ip4:192.0.2.1 -all",)),
                Change(name, ("v=spf1 ~all",), ("v=spf1 include:" + first + " -all",))]  # stale before
        with pytest.raises(ConflictError):
            provider.apply(plan)
        assert provider.read_txt(first) == [] and provider.read_txt(second) == []
        assert provider.read_txt(name) == ["v=spf1 -all"]

    def test_a_plan_of_several_names_lands_whole(self, provider, name):
        child = f"_spf1.{name}"
        provider.apply([Change(child, (), ("v=spf1 ip4:192.0.2.0/24 -all",)),
                        Change(name, (), ("v=spf1 include:" + child + " -all",))])
        assert provider.read_txt(child) == ["v=spf1 ip4:192.0.2.0/24 -all"]
        assert provider.read_txt(name) == ["v=spf1 include:" + child + " -all"]

    def test_guarantee_is_declared(self, provider):
        from spfguard.provider.base import GUARANTEES

        assert provider.guarantee in GUARANTEES
