import pytest

from veritas.net import client_ip

BALANCER = "10.0.0.2"


def request_from(rf, remote=BALANCER, forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return rf.get("/", **meta)


def test_without_proxies_it_is_the_peer_and_ignores_the_header(rf, settings):
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXIES = 0, []

    assert client_ip(request_from(rf, remote="198.51.100.7", forwarded="1.2.3.4")) == "198.51.100.7"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("203.0.113.5", "203.0.113.5"),  # what the balancer appended
        ("1.2.3.4, 203.0.113.5", "203.0.113.5"),  # the client's own header is not believed
        ("203.0.113.5:51234", "203.0.113.5"),  # with a port
        ("[2001:db8::1]:443", "2001:db8::1"),
        (None, BALANCER),  # a request that bypassed the balancer
        ("not-an-address", BALANCER),
    ],
)
def test_behind_one_balancer_it_is_the_address_the_balancer_saw(rf, settings, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXIES = 1, []

    assert client_ip(request_from(rf, forwarded=forwarded)) == expected


def test_behind_two_proxies_it_skips_both(rf, settings):
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXIES = 2, []

    assert client_ip(request_from(rf, forwarded="6.6.6.6, 203.0.113.5, 10.0.0.9")) == "203.0.113.5"


def test_with_trusted_networks_it_is_the_first_untrusted_hop_from_the_right(rf, settings):
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXIES = 0, ["10.0.0.0/8"]

    assert client_ip(request_from(rf, forwarded="6.6.6.6, 203.0.113.5, 10.1.2.3")) == "203.0.113.5"
    assert client_ip(request_from(rf, remote="198.51.100.7", forwarded="6.6.6.6")) == "198.51.100.7", (
        "a peer that is not a trusted proxy is the client, whatever it claims"
    )
