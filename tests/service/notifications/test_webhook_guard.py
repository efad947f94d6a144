"""Where webhooks may go (:mod:`lastmile.service.notifications.guard`): every
loopback, private, link-local, multicast, reserved and unspecified address is
refused in every spelling, names are refused by what they resolve to, and the
operator's allow-list permits internal receivers on purpose."""

from __future__ import annotations

import pytest

from lastmile.exceptions import InputError
from lastmile.service.notifications.guard import MAX_URL_LENGTH, Allow, check_url, pinned
from lastmile.service.notifications.settings import NotifySettings

NAMES = {
    "hooks.example": ["93.184.216.34"],
    "intranet.example": ["10.1.2.3"],
    "half.example": ["93.184.216.34", "192.168.0.7"],
    "six.example": ["2606:2800:220:1:248:1893:25c8:1946"],
    "mapped.example": ["::ffff:169.254.169.254"],
}


def fake_resolve(host: str, port: int) -> list[str]:
    del port
    if host not in NAMES:
        raise OSError("no such name")
    return NAMES[host]


REFUSED = [
    "http://127.0.0.1:8000/hooks",
    "http://localhost:5432/",
    "http://LOCALHOST./x",
    "http://api.localhost/",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[::1]:8080/",
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://2130706433/",
    "http://0x7f.0.0.1/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://intranet.example/",
    "http://half.example/",
    "http://mapped.example/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_internal_addresses_are_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(InputError) as caught:
        check_url(url, allow=Allow(), resolve=fake_resolve)
    assert caught.value.where == "url"
    assert "public addresses" in str(caught.value)


def test_public_receivers_are_checked_and_pinned() -> None:
    target = check_url("https://hooks.example:8443/in?x=1", allow=Allow(), resolve=fake_resolve)
    assert (target.host, target.port, target.address) == ("hooks.example", 8443, "93.184.216.34")
    url, headers, extensions = pinned(target)
    assert str(url) == "https://93.184.216.34:8443/in?x=1"
    assert headers == {"Host": "hooks.example:8443"}
    assert extensions == {"sni_hostname": "hooks.example"}
    six = check_url("http://six.example/", allow=Allow(), resolve=fake_resolve)
    assert str(pinned(six)[0]) == "http://[2606:2800:220:1:248:1893:25c8:1946]/"
    assert check_url("http://93.184.216.34/", allow=Allow(), resolve=fake_resolve).address == (
        "93.184.216.34"
    )


def test_other_mistakes_name_the_url() -> None:
    for url, words in (
        ("ftp://hooks.example/", "http or https"),
        ("http://nowhere.example/", "does not resolve"),
        ("https://hooks.example/" + "a" * MAX_URL_LENGTH, "at most 2048"),
    ):
        with pytest.raises(InputError, match=words) as caught:
            check_url(url, allow=Allow(), resolve=fake_resolve)
        assert caught.value.where == "url"


def test_the_allow_list_permits_internal_receivers_on_purpose() -> None:
    allow = Allow.parse("127.0.0.1/32, 10.0.0.0/8 intranet.example,localhost")
    for url in (
        "http://127.0.0.1:9000/",
        "http://2130706433/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.200.0.1/",
        "http://intranet.example/",
    ):
        assert check_url(url, allow=allow, resolve=fake_resolve).address
    assert check_url("http://localhost/", allow=allow, resolve=lambda h, p: ["127.0.0.1"])
    for url in ("http://127.0.0.2/", "http://192.168.1.1/", "http://half.example/"):
        with pytest.raises(InputError):
            check_url(url, allow=allow, resolve=fake_resolve)
    with pytest.raises(ValueError, match="webhook_allow"):
        NotifySettings(webhook_allow="10.0.0.0/8, not a host!")
