"""moto in server mode: a real HTTP endpoint on loopback that boto3 talks to through AWS_ENDPOINT_URL.

What moto 5.2 does not reproduce, and this fixture adds: Route 53 checks a change batch against the **current**
record sets — a DELETE must give exactly the TTL and values a set holds now, a CREATE must not find a set — and
refuses the whole batch with InvalidChangeBatch otherwise. moto checks a DELETE against its journal of past
CREATE/UPSERT changes instead, so a DELETE of values that once existed is accepted even after someone changed
them (checked by hand against moto 5.2.5), which would hide exactly the concurrent edit a compare-and-set is
for. ``strict_route53()`` wraps moto's backend with Route 53's rule; moto runs in this process (a thread), so
the wrapper applies to the server the tests talk to.
"""

from __future__ import annotations

from moto.route53.exceptions import Route53ClientError
from moto.route53.models import Route53Backend
from moto.server import ThreadedMotoServer

from tests.support.knot import free_port


class _InvalidChangeBatch(Route53ClientError):
    def __init__(self, message: str):
        super().__init__("InvalidChangeBatch", message)


def _key(rrset: dict) -> tuple[str, str]:
    return rrset["Name"].rstrip(".").lower(), rrset["Type"]


def _values(records: list) -> list[str]:
    return [r["Value"] if isinstance(r, dict) else r for r in records]


def strict_route53() -> None:
    original = Route53Backend.change_resource_record_sets
    if getattr(original, "strict", False):
        return

    def change_resource_record_sets(self, zoneid, change_list):
        zone = self.get_hosted_zone(zoneid)
        current = {(r.name.rstrip(".").lower(), r.type): (r.ttl, list(r.records)) for r in zone.rrsets}
        for change in change_list:  # in order, as Route 53 evaluates a batch
            rrset = change["ResourceRecordSet"]
            key = _key(rrset)
            wanted = (rrset.get("TTL"), _values(rrset.get("ResourceRecords", [])))
            if change["Action"] == "DELETE":
                if current.get(key) != wanted:
                    raise _InvalidChangeBatch(f"Tried to delete resource record set [name='{rrset['Name']}', "
                                              f"type='{rrset['Type']}'] but the values provided do not match the "
                                              "current values")
                del current[key]
            elif change["Action"] == "CREATE":
                if key in current:
                    raise _InvalidChangeBatch(f"Tried to create resource record set [name='{rrset['Name']}', "
                                              f"type='{rrset['Type']}'] but it already exists")
                current[key] = wanted
            else:
                current[key] = wanted
        return original(self, zoneid, change_list)

    change_resource_record_sets.strict = True
    Route53Backend.change_resource_record_sets = change_resource_record_sets


class MotoServer:
    def __init__(self):
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        strict_route53()
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
