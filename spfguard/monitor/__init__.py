"""``monitor``: the nightly job — snapshots, drift, alerts on change, a state store that survives crashes."""
