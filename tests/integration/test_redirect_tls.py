"""TLS settings are resolved for each redirect hop: no host inherits another's."""

from __future__ import annotations

import pytest
import requests

import httpkit
from tests.integration.servers import Reply, ScriptedServer
from tests.integration.tls_servers import TLSServer


def test_verify_false_of_one_host_does_not_travel_with_a_redirect(
    server: ScriptedServer, untrusted_https: TLSServer
) -> None:
    server.script("/start", Reply(302, headers=[("Location", untrusted_https.url("/"))]))
    with httpkit.Session(retry=0) as s:
        s.configure(server.origin, verify=False)
        with pytest.raises(requests.exceptions.SSLError):
            s.get(server.url("/start"))
    assert untrusted_https.requests == 0


def test_a_hop_to_a_host_with_verify_false_gets_it(
    server: ScriptedServer, untrusted_https: TLSServer
) -> None:
    server.script("/start", Reply(302, headers=[("Location", untrusted_https.url("/"))]))
    with httpkit.Session(retry=0) as s:
        s.configure(untrusted_https.origin, verify=False)
        with pytest.warns(httpkit.InsecureRequestWarning):
            assert s.get(server.url("/start")).text == "ok"
    assert untrusted_https.requests == 1
