"""Monitor logic without servers: problems, changes, vendor data versions, notification retries."""

from __future__ import annotations

from spfguard.monitor.location import StateLocation
from spfguard.monitor.run import run_once
from spfguard.monitor.settings import AlertSettings, DomainSettings, MonitorSettings, Route
from spfguard.monitor.sinks.webhook import WebhookSink
from spfguard.monitor.store import SqliteStore as Store
from tests.helpers import zone


def settings(tmp_path, *domains, webhook=None, **kwargs):
    route = Route({"webhook": WebhookSink(webhook)} if webhook else {})
    return MonitorSettings(state=StateLocation(tmp_path / "s.sqlite"), domains=[DomainSettings(d) for d in domains],
                           alerts=AlertSettings(route), **kwargs)


def test_void_lookups_for_ipv6_senders_are_a_problem(tmp_path):
    dns = zone(**{"example.com": ["v=spf1 a:h1.example.com a:h2.example.com a:h3.example.com -all"],
                  **{f"h{n}.example.com": [("A", f"192.0.2.{n}")] for n in (1, 2, 3)}})
    store = Store(tmp_path / "s.sqlite")
    result = run_once(settings(tmp_path, "example.com"), dns, store)
    assert result.exit_code == 1
    assert [(e.code, e.key) for e in result.events] == [("void-over-limit", "IPv6")]


def test_vendor_data_version_change_is_reported_once(tmp_path):
    dns = zone(**{"example.com": ["v=spf1 ip4:192.0.2.1 -all"]})
    store = Store(tmp_path / "s.sqlite")
    config = settings(tmp_path, "example.com")
    assert run_once(config, dns, store, ms_version="2026110100").events == []
    events = run_once(config, dns, store, ms_version="2026112600").events
    assert [(e.domain, e.code) for e in events] == [("*", "vendor-ranges-updated")]
    assert "2026110100 → 2026112600" in events[0].message
    assert run_once(config, dns, store, ms_version="2026112600").events == []


def test_an_undelivered_alert_is_sent_again(tmp_path):
    from tests.support.webhook import WebhookReceiver

    dns = zone(**{"example.com": ["v=spf1 +all"]})
    store = Store(tmp_path / "s.sqlite")
    config = settings(tmp_path, "example.com", webhook="http://127.0.0.1:9/hook")
    first = run_once(config, dns, store)
    assert first.alert_errors and [(e.code, e.key) for e in first.events] == [("spf-error", "permissive-all")]
    second = run_once(config, dns, store)
    assert second.alert_errors and second.events == []  # nothing new, but the pending alert was tried again
    assert store.pending_count() == {"default/webhook": 1}
    hook = WebhookReceiver()
    try:
        config.alerts.default.sinks["webhook"] = WebhookSink(hook.url)
        third = run_once(config, dns, store)
        assert not third.alert_errors and third.delivered == 1
        assert [e["code"] for e in hook.posts[0]["events"]] == ["spf-error"]
        assert run_once(config, dns, store).delivered == 0 and len(hook.posts) == 1  # delivered once: now quiet
    finally:
        hook.stop()


def test_record_and_range_changes(tmp_path):
    dns = zone(**{"example.com": ["v=spf1 include:vendor.example.net -all"],
                  "vendor.example.net": ["v=spf1 ip4:198.51.100.0/24 -all"]})
    store = Store(tmp_path / "s.sqlite")
    config = settings(tmp_path, "example.com")
    run_once(config, dns, store)
    changed = zone(**{"example.com": ["v=spf1 include:vendor.example.net ~all"],
                      "vendor.example.net": ["v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.0/24 -all"]})
    events = {(e.code, e.key): e for e in run_once(config, changed, store).events}
    assert events[("record-changed", "example.com")].data == {
        "name": "example.com", "old": "v=spf1 include:vendor.example.net -all",
        "new": "v=spf1 include:vendor.example.net ~all"}
    ranges = events[("ranges-changed", "vendor.example.net")]
    assert ranges.data["added"] == ["203.0.113.0/24"] and ranges.data["removed"] == []
    assert events[("record-changed", "vendor.example.net")].data["new"].endswith("203.0.113.0/24 -all")
