"""moto in server mode: a real HTTP endpoint on loopback that boto3 talks to through AWS_ENDPOINT_URL."""

from __future__ import annotations

from moto.server import ThreadedMotoServer

from tests.support.knot import free_port


class MotoServer:
    def __init__(self):
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
