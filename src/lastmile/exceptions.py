"""The exceptions lastmile raises.

::

    LastmileError
     ├── InputError              bad input: names the file/row/field and what is wrong
     │    ├── FormatError        a file that cannot be parsed in the format it claims
     │    └── InvalidTransition  an order event its status does not allow (operations.lifecycle)
     ├── UnsupportedConstraint   an engine asked to honour a constraint it cannot model
     ├── UnknownEngine           an engine name that does not exist
     ├── SolveError              an engine failed to produce a plan
     ├── SchedulerUnreachable    a Dask scheduler that does not answer (planning.executors)
     ├── InvalidPlan             a plan that breaks its problem's rules (planning.validate)
     │    └── LiveChangeRejected a live change the validator refused (planning.live)
     ├── OSRMError               OSRM answered with an error (travel.osrm)
     │    └── OSRMUnavailable    no OSRM server to talk to
     ├── WeatherUnavailable      a weather service could not be reached (travel.weather)
     ├── GeocoderUnavailable     an online geocoder could not be reached (geocode.nominatim)
     ├── ServiceDriveError       the twin cannot drive a service's day (simulate.http)
     └── DemoSeedError           the served demo's day could not be seeded (service.demo_day)

The classes defined elsewhere live with the code that raises them; the tree
lists them all (a test keeps it complete).

Every message is written for the person who has to fix the input, not for the
developer: it names where the problem is and what was expected.
"""

from __future__ import annotations


class LastmileError(Exception):
    """Base class of every error lastmile raises on purpose."""


class InputError(LastmileError, ValueError):
    """Invalid input. ``where`` names the file, row or field at fault."""

    def __init__(self, message: str, *, where: str = "") -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class FormatError(InputError):
    """A file that cannot be read in the format it is said to be in."""


class UnsupportedConstraint(LastmileError):
    """An engine cannot honour a constraint the problem uses."""

    def __init__(self, engine: str, features: frozenset[str] | set[str]) -> None:
        self.engine = engine
        self.features = frozenset(features)
        names = ", ".join(sorted(self.features))
        super().__init__(f"engine {engine!r} cannot honour: {names}")


class UnknownEngine(LastmileError, ValueError):
    """An engine name that is not registered."""


class SolveError(LastmileError, RuntimeError):
    """An engine failed to produce a plan."""
