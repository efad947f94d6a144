"""Message templates without a database: the shipped defaults, the checks a template
passes before it is stored, the sandbox, languages and their fallback."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import jinja2
import pytest
from jinja2.exceptions import SecurityError

from lastmile.operations.notify import MessageFacts, NotifyEvent, render
from lastmile.operations.segments import sms_length
from lastmile.service.notifications import wording

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def at(hour: int, minute: int = 0, day: int = 2) -> dt.datetime:
    return dt.datetime(2025, 5, day, hour, minute, tzinfo=PARIS)


def facts(**kw: object) -> MessageFacts:
    base: dict[str, object] = {
        "order_ref": "o-1",
        "tz": PARIS,
        "customer_name": "Aino",
        "sender": "Posti",
        "tracking_url": "https://t.example/track/x",
        "window": (at(9), at(18)),
        "eta": (at(13), at(14)),
    }
    return MessageFacts(**(base | kw))  # type: ignore[arg-type]


def nothing(kind: str, channel: str, language: str) -> wording.TemplateText | None:
    del kind, channel, language
    return None


def test_defaults_exist_for_every_kind_channel_and_language() -> None:
    assert {"en", "fi"} <= set(wording.default_languages())
    assert set(wording.KINDS) == {e.value for e in NotifyEvent} >= {"window_changed"}
    for kind, channel, language in itertools.product(wording.KINDS, wording.Channel, ("en", "fi")):
        template = wording.default_template(kind, channel.value, language)
        assert template is not None, (kind, channel, language)
        assert template.body.strip()
        assert wording.check("body", template.body) == [], (kind, channel, language)
        if channel is wording.Channel.EMAIL:
            assert template.subject and wording.check("subject", template.subject) == []
        else:
            assert template.subject == ""


def test_english_defaults_say_what_the_messages_always_said() -> None:
    """The shipped English templates render, for every combination of facts, exactly
    the texts of :func:`lastmile.operations.notify.render`."""
    checked = 0
    specific: dict[NotifyEvent, list[dict[str, object]]] = {
        NotifyEvent.DELIVERED: [{"received_by": ""}, {"received_by": "Bob"}],
        NotifyEvent.FAILED: [
            {"reason": reason, "next_attempt": again}
            for reason in ("", "nobody home")
            for again in (None, (at(9, day=5), at(12, day=5)), dt.date(2025, 5, 6))
        ],
    }
    for event in NotifyEvent:
        for pickup, late, name, org, url, window, extra in itertools.product(
            (False, True),
            (False, True),
            ("", "Ada"),
            ("", "Acme"),
            ("", "https://t.example/track/x"),
            (None, (at(9), at(18))),
            specific.get(event, [{}]),
        ):
            f = facts(
                customer_name=name,
                sender=org,
                tracking_url=url,
                window=window,
                eta=(at(19, 20), at(19, 20)) if late else (at(13), at(14)),
                pickup=pickup,
                late=late,
                **extra,
            )
            assert wording.compose(event, f, language="en", lookup=nothing) == render(event, f)
            checked += 1
    assert checked == 2**6 * (len(NotifyEvent) - 2 + 2 + 6)


@pytest.mark.parametrize(
    ("month", "offset"), [(1, "UTC+02:00"), (7, "UTC+03:00")], ids=["winter", "summer"]
)
def test_finnish_and_english_show_the_same_local_times(month: int, offset: str) -> None:
    """Every language writes the organisation's local clock times (here Helsinki's,
    given instants in UTC) with the same UTC offset: only the words differ."""
    helsinki = zoneinfo.ZoneInfo("Europe/Helsinki")
    utc = dt.UTC
    window = (
        dt.datetime(2025, month, 2, 11, tzinfo=utc),
        dt.datetime(2025, month, 2, 14, tzinfo=utc),
    )
    local = [t.astimezone(helsinki) for t in window]
    eta = (window[0] + dt.timedelta(minutes=30), window[0] + dt.timedelta(minutes=90))
    f = facts(tz=helsinki, window=window, eta=eta)
    english = wording.compose(NotifyEvent.ON_THE_WAY, f, language="en", lookup=nothing)
    finnish = wording.compose(NotifyEvent.ON_THE_WAY, f, language="fi", lookup=nothing)
    start, end = (f"{t:%H:%M}" for t in local)
    assert start == ("13:00" if month == 1 else "14:00")
    eta_start, eta_end = (f"{t.astimezone(helsinki):%H:%M}" for t in eta)
    assert f"between {eta_start} and {eta_end} ({offset})" in english.text
    dotted = [x.replace(":", ".") for x in (eta_start, eta_end)]
    assert f"klo {dotted[0]}-{dotted[1]} ({offset})" in finnish.text
    assert f"{local[0]:%d/%m} {eta_start}-{eta_end} {offset}" in english.sms
    assert f"{local[0]:%d.%m.} klo {dotted[0]}-{dotted[1]} {offset}" in finnish.sms
    dispatched = wording.compose(NotifyEvent.DISPATCHED, f, language="fi", lookup=nothing)
    assert f"klo {start.replace(':', '.')}-{end.replace(':', '.')} ({offset})" in dispatched.text
    for message in (english, finnish, dispatched):  # the UTC clock time (11:00) nowhere
        assert "11:00" not in message.text + message.sms
        assert "11.00" not in message.text + message.sms


def test_finnish_defaults_write_finnish_days_and_times() -> None:
    message = wording.compose(NotifyEvent.DISPATCHED, facts(), language="fi", lookup=nothing)
    assert message.subject == "Toimitus o-1 on aikataulutettu"
    assert "perjantaina 2. toukokuuta klo 09.00-18.00 (UTC+02:00)" in message.text
    assert message.text.startswith("Hei Aino,")
    assert message.sms.startswith("Posti: toimitus o-1 aikataulutettu 02.05. klo 09.00-18.00")
    assert sms_length(message.sms).encoding == "GSM-7"  # ä, ö are in the GSM alphabet
    failed = wording.compose(
        NotifyEvent.FAILED, facts(next_attempt=dt.date(2025, 5, 6)), language="fi", lookup=nothing
    )
    assert "Yritämme uudelleen tiistaina 6. toukokuuta." in failed.text


def test_a_language_without_templates_gets_english() -> None:
    english = wording.compose(NotifyEvent.DELIVERED, facts(), language="en", lookup=nothing)
    assert wording.compose(NotifyEvent.DELIVERED, facts(), language="sv", lookup=nothing) == english
    # ... unless the organisation wrote one in that language.
    own = wording.TemplateText(
        subject="Levererat {{ order_reference }}", body="Hej {{ customer_name }}!"
    )

    def swedish(kind: str, channel: str, language: str) -> wording.TemplateText | None:
        return own if language == "sv" else None

    message = wording.compose(NotifyEvent.DELIVERED, facts(), language="sv", lookup=swedish)
    assert (message.subject, message.text, message.sms) == (
        "Levererat o-1",
        "Hej Aino!",
        "Hej Aino!",
    )


def test_on_the_way_when_already_late_uses_the_delay_template() -> None:
    own = wording.TemplateText(subject="LATE", body="late {{ eta_short }}")

    def delay_only(kind: str, channel: str, language: str) -> wording.TemplateText | None:
        return own if kind == "delay" else None

    late = facts(eta=(at(19, 20), at(19, 20)), late=True)
    message = wording.compose(NotifyEvent.ON_THE_WAY, late, language="en", lookup=delay_only)
    assert message.subject == "LATE" and message.sms == "late ~19:20 UTC+02:00"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hello {{ customer_nmae }}", "line 1: unknown variable 'customer_nmae'"),
        ("Hi\n\n{% if pickup %}x{% endif %} {{ secret }}", "line 3: unknown variable 'secret'"),
        ("Hello {{ customer_name ", "line 1: syntax error"),
        ("{% if late %}\nlate\n", "syntax error"),
        ("{{ customer_name.__class__ }}", "attribute access are not allowed"),
        ("{{ customer_name['x'] }}", "item access are not allowed"),
        ("{% for c in customer_name %}{{ c }}{% endfor %}", "loops are not allowed"),
        ("{{ customer_name.upper() }}", "calls are not allowed"),
        ("{{ 'x' * 1000000000 }}", "arithmetic are not allowed"),
        ("{% set x = 1 %}", "assignments are not allowed"),
        ("{% include 'base.html' %}", "includes are not allowed"),
        ("{{ customer_name | attr('__class__') }}", "unknown filter 'attr'"),
        ("{{ range(10) }}", "unknown variable 'range'"),
        ("{{ lipsum() }}", "calls are not allowed"),
    ],
)
def test_checks_name_the_problem_and_its_line(source: str, expected: str) -> None:
    found = wording.problems(source)
    assert found and any(expected in p for p in found), found


def test_checks_accept_conditions_filters_and_joins() -> None:
    source = (
        "{% if customer_name and not pickup %}{{ customer_name | title }}{% elif late %}x"
        "{% else %}{{ organisation_name ~ '!' }}{% endif %} {{ reason | default('-') }}"
        " {{ 'a' if late else 'b' }} {% if window is defined and eta != '' %}{{ eta }}{% endif %}"
    )
    assert wording.problems(source) == []
    assert wording.check("subject", "x" * 301) == ["at most 300 characters, got 301"]
    assert wording.check("body", "  ") == ["must not be empty"]


def test_the_sandbox_refuses_attribute_tricks_even_unchecked() -> None:
    """What :func:`check` refuses never reaches rendering; were it stored anyway (an
    older rule), the sandbox still refuses it and the default is sent instead."""
    values = {"customer_name": "Aino", "pickup": False}
    for trick in (
        "{{ customer_name.__class__.__mro__[1].__subclasses__() }}",
        "{{ pickup.__class__.__init__.__globals__ }}",
    ):
        with pytest.raises(SecurityError):
            wording.render_source(trick, values)
    # What the sandbox does not refuse outright comes out empty: nothing leaks.
    assert wording.render_source("{{ customer_name.format.__globals__ }}", values) == ""
    with pytest.raises(jinja2.TemplateError):
        wording.render_source("{{ range(3) }}", {})  # no globals at all

    bad = wording.TemplateText(subject="x", body="{{ customer_name.__class__.__mro__ }}")

    def stored(kind: str, channel: str, language: str) -> wording.TemplateText | None:
        return bad

    message = wording.compose(NotifyEvent.DELIVERED, facts(), language="en", lookup=stored)
    assert message == render(NotifyEvent.DELIVERED, facts())


def test_previews_count_sms_segments() -> None:
    sample = wording.sample_facts("dispatched", organisation_name="Posti", tz=PARIS)
    sms = wording.TemplateText(
        subject="", body="{{ organisation_name }}: hyvää päivää {{ order_reference }}"
    )
    shown = wording.preview(sms, "sms", sample, language="fi")
    assert shown.text == "Posti: hyvää päivää ORD-1042"
    assert shown.sms is not None and shown.sms.encoding == "GSM-7" and shown.sms.segments == 1
    emoji = wording.TemplateText(subject="", body="{{ order_reference }} 📦")
    shown = wording.preview(emoji, "sms", sample, language="en")
    assert shown.sms is not None and shown.sms.encoding == "UCS-2" and shown.sms.non_gsm == ("📦",)
    assert (
        wording.preview(
            wording.TemplateText(subject="S {{ order_reference }}", body="B"),
            "email",
            sample,
            language="en",
        ).sms
        is None
    )
    with pytest.raises(ValueError, match="unknown variable 'nope'"):
        wording.preview(wording.TemplateText("", "{{ nope }}"), "sms", sample, language="en")
