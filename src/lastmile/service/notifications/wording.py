"""What customer messages say: templates per kind, channel and language.

Every message a customer gets (see :class:`~lastmile.operations.notify.NotifyEvent`)
is a template for each channel: an e-mail has a subject and a body, an SMS a
body. Defaults ship with the package in English and Finnish
(``lastmile/data/messages/<language>.toml``, which also say how that language
writes days and times); an organisation's edits (:mod:`.message_templates`) override
them.

Templates are Jinja2, rendered in a sandbox and checked before they are stored
(:func:`check`): only the variables of :data:`VARIABLES`, ``if``/``elif``/
``else``, ``and``/``or``/``not``, comparisons, ``~`` joins and the filters of
:data:`FILTERS`. Loops, macros, includes, attribute and item access, calls and
arithmetic are refused, so a template can neither reach Python objects nor
take more time or memory than its own length allows. Texts are plain
(nothing is HTML-escaped): the e-mails are text, SMS have no markup.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

import lastmile
from lastmile.exceptions import InputError
from lastmile.operations.notify import Message, MessageFacts, NotifyEvent
from lastmile.operations.segments import SmsLength, sms_length

DEFAULTS = Path(lastmile.__file__).parent / "data" / "messages"
DEFAULT_LANGUAGE = "en"
#: The longest template part stored (characters).
MAX_TEMPLATE_LENGTH = {"subject": 300, "body": 5000}


class Channel(StrEnum):
    """How a message travels."""

    EMAIL = "email"
    SMS = "sms"


#: Kinds of customer message, in the order a customer hears them.
KINDS: tuple[str, ...] = tuple(e.value for e in NotifyEvent)
#: The parts of a template per channel.
PARTS = {Channel.EMAIL: ("subject", "body"), Channel.SMS: ("body",)}

#: What a template may use, with what it holds. Texts are empty when unknown.
VARIABLES: dict[str, str] = {
    "customer_name": "The customer's name (may be empty).",
    "order_reference": "The order's reference (its external_id, else the start of its id).",
    "organisation_name": "The organisation's name.",
    "pickup": "True when the customer hands goods over (a collection), false for a delivery.",
    "window": "The agreed time window in words, e.g. 'Friday 2 May between 13:00 and 16:00 "
    "(UTC+02:00)'; empty when the order has none.",
    "window_short": "The agreed window, short: '02/05 13:00-16:00 UTC+02:00'.",
    "eta": "on_the_way, delay: the range told for the start of service, in words; when the "
    "driver runs late, 'around 16:20 (UTC+02:00) on Friday 2 May'.",
    "eta_short": "The same, short: '02/05 13:30-14:30 UTC+02:00' or '~16:20 UTC+02:00'.",
    "late": "True when the driver runs later than the agreed window.",
    "tracking_link": "The customer's tracking page (empty when the service has no public URL).",
    "driver_first_name": "The first name of the driver of the order's route, once dispatched.",
    "received_by": "delivered: who took the goods.",
    "reason": "failed: why the stop failed.",
    "next_attempt": "failed: when it will be tried again, in words (e.g. 'on Monday 5 May'); "
    "empty when not decided.",
    "next_attempt_short": "failed: the same, short ('05/05').",
}
#: Filters a template may use.
#: (Not ``replace``: chained, it multiplies a text past any bound.)
FILTERS = ("capitalize", "default", "length", "lower", "title", "trim", "truncate", "upper")
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.If,
    nodes.CondExpr,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
    nodes.Filter,
    nodes.Test,
    nodes.Keyword,
)
_TESTS = ("defined", "undefined", "none", "string", "sameas", "eq", "ne", "in")
_WHAT = {
    nodes.For: "loops",
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Include: "includes",
    nodes.Import: "imports",
    nodes.FromImport: "imports",
    nodes.Extends: "extends",
    nodes.Block: "blocks",
    nodes.Getattr: "attribute access",
    nodes.Getitem: "item access",
    nodes.Call: "calls",
    nodes.Assign: "assignments",
    nodes.AssignBlock: "assignments",
    nodes.BinExpr: "arithmetic",
    nodes.UnaryExpr: "arithmetic",
}


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        autoescape=False, undefined=jinja2.Undefined, keep_trailing_newline=False
    )
    env.globals.clear()  # no range(), dict(), lipsum(), ...
    env.filters = {name: env.filters[name] for name in FILTERS}
    env.tests = {name: env.tests[name] for name in _TESTS}
    return env


ENV = _environment()


@dataclass(frozen=True, slots=True)
class TemplateText:
    """One template: ``subject`` (e-mail only; empty for SMS) and ``body``."""

    subject: str
    body: str


# -- defaults ---------------------------------------------------------------------------------


@functools.cache
def _catalogue(language: str) -> Mapping[str, Any]:
    path = DEFAULTS / f"{language}.toml"
    if not path.is_file():
        return {}
    return tomllib.loads(path.read_text(encoding="utf-8"))


def default_languages() -> tuple[str, ...]:
    """The languages default templates ship in."""
    return tuple(sorted(p.stem for p in DEFAULTS.glob("*.toml")))


def default_template(kind: str, channel: str, language: str) -> TemplateText | None:
    """The shipped template, or None when ``language`` has none."""
    entry = _catalogue(language).get(kind, {}).get(channel)
    if entry is None:
        return None
    return TemplateText(subject=entry.get("subject", ""), body=entry["body"])


def default_table(name: str, language: str) -> Mapping[str, Any] | None:
    """Another table of ``language``'s defaults (e.g. ``replies``), or None."""
    table: Mapping[str, Any] | None = _catalogue(language).get(name)
    return table


def _format(language: str) -> Mapping[str, Any]:
    """How ``language`` writes days and times (English for a language with no defaults)."""
    own: Mapping[str, Any] | None = _catalogue(language).get("format")
    english: Mapping[str, Any] = _catalogue(DEFAULT_LANGUAGE)["format"]
    return own if own is not None else english


# -- checking -----------------------------------------------------------------------------------


def _node_problem(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in VARIABLES:
        known = ", ".join(VARIABLES)
        return f"unknown variable {node.name!r} (known: {known})"
    if isinstance(node, nodes.Filter) and node.name not in FILTERS:
        return f"unknown filter {node.name!r} (allowed: {', '.join(FILTERS)})"
    if isinstance(node, nodes.Test) and node.name not in _TESTS:
        return f"unknown test {node.name!r} (allowed: {', '.join(_TESTS)})"
    if isinstance(node, _ALLOWED_NODES):
        return None
    for kind, what in _WHAT.items():
        if isinstance(node, kind):
            return f"{what} are not allowed in message templates"
    return f"{type(node).__name__} is not allowed in message templates"


def problems(source: str) -> list[str]:
    """Everything wrong with a template, each naming its line (empty: it is fine)."""
    try:
        tree = ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return [f"line {exc.lineno}: syntax error: {exc.message}"]
    found: list[str] = []
    for node in tree.find_all(nodes.Node):
        problem = _node_problem(node)
        if problem is not None:
            line = f"line {node.lineno}: " if getattr(node, "lineno", None) else ""
            found.append(f"{line}{problem}")
    if found:
        return list(dict.fromkeys(found))
    try:  # compile-time errors the parser lets through
        _compiled(source)
    except jinja2.TemplateError as exc:
        return [f"syntax error: {exc}"]
    return []


def check(part: str, source: str) -> list[str]:
    """:func:`problems` of one template part (``subject`` or ``body``), with its limits."""
    found = []
    if len(source) > MAX_TEMPLATE_LENGTH[part]:
        found.append(f"at most {MAX_TEMPLATE_LENGTH[part]} characters, got {len(source)}")
    if part == "body" and not source.strip():
        found.append("must not be empty")
    return found + problems(source)


def render_source(source: str, variables: Mapping[str, object]) -> str:
    """Render one template in the sandbox. Raises :class:`jinja2.TemplateError`
    (:class:`jinja2.exceptions.SecurityError` for what the sandbox refuses) on a
    template :func:`check` would have refused."""
    return _compiled(source).render(dict(variables))


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> jinja2.Template:
    return ENV.from_string(source)


# -- variables ----------------------------------------------------------------------------------


def _offset(t: dt.datetime) -> str:
    z = t.strftime("%z") or "+0000"
    return f"UTC{z[:3]}:{z[3:]}"


class Words:
    """Days, times and windows as ``language`` writes them (its ``[format]`` table)."""

    def __init__(self, language: str) -> None:
        self.f = _format(language)

    def day(self, value: dt.date) -> str:
        return str(self.f["day"]).format(
            weekday=self.f["weekdays"][value.weekday()],
            day=value.day,
            month=self.f["months"][value.month - 1],
        )

    def time(self, t: dt.datetime) -> str:
        return t.strftime(self.f["time"])

    def span(self, window: tuple[dt.datetime, dt.datetime], zone: dt.tzinfo) -> str:
        start, end = (t.astimezone(zone) for t in window)
        if start.date() == end.date():
            return str(self.f["span"]).format(
                day=self.day(start),
                start=self.time(start),
                end=self.time(end),
                offset=_offset(end),
            )
        return str(self.f["span_days"]).format(
            start_day=self.day(start),
            start=self.time(start),
            end_day=self.day(end),
            end=self.time(end),
            offset=_offset(end),
        )

    def short(self, window: tuple[dt.datetime, dt.datetime], zone: dt.tzinfo) -> str:
        start, end = (t.astimezone(zone) for t in window)
        return str(self.f["short"]).format(
            date=start.strftime(self.f["date_short"]),
            start=self.time(start),
            end=self.time(end),
            offset=_offset(end),
        )

    def around(self, when: dt.datetime, zone: dt.tzinfo) -> str:
        t = when.astimezone(zone)
        return str(self.f["around"]).format(time=self.time(t), offset=_offset(t), day=self.day(t))

    def around_short(self, when: dt.datetime, zone: dt.tzinfo) -> str:
        t = when.astimezone(zone)
        return str(self.f["around_short"]).format(time=self.time(t), offset=_offset(t))

    def on_day(self, value: dt.date) -> str:
        return str(self.f["on_day"]).format(day=self.day(value))

    def date_short(self, value: dt.date) -> str:
        return value.strftime(self.f["date_short"])


def variables(
    facts: MessageFacts, *, language: str, driver_first_name: str = ""
) -> dict[str, object]:
    """What a template sees for ``facts``, days and times written in ``language``."""
    words, zone = Words(language), facts.tz
    eta = eta_short = ""
    if facts.eta is not None:
        if facts.late:
            eta, eta_short = (
                words.around(facts.eta[0], zone),
                words.around_short(facts.eta[0], zone),
            )
        else:
            eta, eta_short = words.span(facts.eta, zone), words.short(facts.eta, zone)
    nxt = facts.next_attempt
    if isinstance(nxt, tuple):
        next_attempt, next_short = words.span(nxt, zone), words.short(nxt, zone)
    elif isinstance(nxt, dt.date):
        next_attempt, next_short = words.on_day(nxt), words.date_short(nxt)
    else:
        next_attempt = next_short = ""
    return {
        "customer_name": facts.customer_name,
        "order_reference": facts.order_ref,
        "organisation_name": facts.sender,
        "pickup": facts.pickup,
        "window": words.span(facts.window, zone) if facts.window else "",
        "window_short": words.short(facts.window, zone) if facts.window else "",
        "eta": eta,
        "eta_short": eta_short,
        "late": facts.late,
        "tracking_link": facts.tracking_url,
        "driver_first_name": driver_first_name,
        "received_by": facts.received_by,
        "reason": facts.reason,
        "next_attempt": next_attempt,
        "next_attempt_short": next_short,
    }


def sample_facts(
    kind: str, *, organisation_name: str, tz: dt.tzinfo, pickup: bool = False, late: bool = False
) -> MessageFacts:
    """A made-up order for previews: tomorrow 13:00-16:00 in the organisation's zone."""
    day = (dt.datetime.now(tz) + dt.timedelta(days=1)).date()
    at = functools.partial(dt.datetime, day.year, day.month, day.day, tzinfo=tz)
    window = (at(13), at(16))
    late = late or kind == NotifyEvent.DELAY.value
    eta = (at(16, 20), at(16, 20)) if late else (at(13, 30), at(14, 30))
    return MessageFacts(
        order_ref="ORD-1042",
        tz=tz,
        customer_name="Aino Virtanen",
        sender=organisation_name,
        tracking_url="https://track.example/track/AbC123",
        window=window,
        eta=eta if kind in ("on_the_way", "delay") else None,
        received_by="A. Virtanen" if kind == "delivered" else "",
        reason="nobody was at home" if kind == "failed" else "",
        next_attempt=(window[0] + dt.timedelta(days=1), window[1] + dt.timedelta(days=1))
        if kind == "failed"
        else None,
        pickup=pickup,
        late=late,
    )


# -- composing ----------------------------------------------------------------------------------

#: Finds a template: ``(kind, channel, language) -> TemplateText | None``.
Lookup = Callable[[str, str, str], TemplateText | None]


def resolve(lookup: Lookup, kind: str, channel: str, language: str) -> tuple[TemplateText, str]:
    """The template for ``language`` (the organisation's, else the default), else
    English's; with the language it is in."""
    for lang in dict.fromkeys((language, DEFAULT_LANGUAGE)):
        found = lookup(kind, channel, lang) or default_template(kind, channel, lang)
        if found is not None:
            return found, lang
    raise InputError(f"no template for {kind} by {channel}", where="kind")


def kind_of(event: NotifyEvent, facts: MessageFacts) -> str:
    """The template an event uses: an ``on_the_way`` told when already late is a delay."""
    if event is NotifyEvent.ON_THE_WAY and facts.late:
        return NotifyEvent.DELAY.value
    return event.value


def compose(
    event: NotifyEvent,
    facts: MessageFacts,
    *,
    language: str,
    lookup: Lookup,
    driver_first_name: str = "",
) -> Message:
    """The message for ``event`` in ``language`` (English where it has no template):
    the organisation's templates where it has them, the defaults otherwise. A stored
    template that fails to render (it was checked, so only a template stored before
    a rule tightened) is replaced by the default, never left unsent."""
    if event in (NotifyEvent.ON_THE_WAY, NotifyEvent.DELAY) and facts.eta is None:
        raise InputError(f"a {event.value} message needs the expected arrival", where="eta")
    kind = kind_of(event, facts)
    parts: dict[str, str] = {}
    for channel in Channel:
        template, lang = resolve(lookup, kind, channel.value, language)
        values = variables(facts, language=lang, driver_first_name=driver_first_name)
        try:
            subject = render_source(template.subject, values)
            body = render_source(template.body, values)
        except jinja2.TemplateError:
            fallback = default_template(kind, channel.value, lang) or default_template(
                kind, channel.value, DEFAULT_LANGUAGE
            )
            assert fallback is not None
            subject = render_source(fallback.subject, values)
            body = render_source(fallback.body, values)
        parts[channel.value] = body
        if channel is Channel.EMAIL:
            parts["subject"] = " ".join(subject.split())
    return Message(parts["subject"], parts[Channel.EMAIL.value], parts[Channel.SMS.value].strip())


@dataclass(frozen=True, slots=True)
class Preview:
    """A template rendered with a sample order."""

    subject: str
    text: str
    sms: SmsLength | None


def preview(template: TemplateText, channel: str, facts: MessageFacts, *, language: str) -> Preview:
    """``template`` rendered for ``facts``; raises :class:`InputError` naming the part
    at fault when it is refused (see :func:`check`)."""
    values = variables(facts, language=language, driver_first_name="Mikko")
    rendered = {}
    for part in PARTS[Channel(channel)]:
        source = getattr(template, part)
        found = check(part, source)
        if found:
            raise InputError("; ".join(found), where=part)
        try:
            rendered[part] = render_source(source, values)
        except jinja2.TemplateError as exc:
            raise InputError(f"cannot be rendered: {exc}", where=part) from None
    text = rendered["body"]
    if channel == Channel.SMS:
        text = text.strip()
    subject = " ".join(rendered.get("subject", "").split())
    return Preview(subject, text, sms_length(text) if channel == Channel.SMS else None)
