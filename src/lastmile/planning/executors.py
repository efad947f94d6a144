"""Where parallel planning work runs: local processes, or a Dask cluster.

The planner hands independent pieces of work (the searches of a portfolio, the
groups of a decomposed plan, whole planning jobs) to a
:class:`concurrent.futures.Executor`. :func:`open_executor` opens one:

* no scheduler: a pool of local processes (:class:`LocalProcessPool`), started
  with ``forkserver`` (``spawn`` where there is none) so that it is safe to
  open from a process that runs threads (a web service, a Dask client);
* ``tcp://HOST:PORT``: the executor of a :class:`distributed.Client`
  connected to that Dask scheduler (``dask scheduler`` and ``dask worker
  tcp://HOST:PORT`` on the machines that should do the work). ``distributed``
  is imported only then. A scheduler that does not answer within
  ``connect_timeout`` seconds is a :class:`SchedulerUnreachable` naming it.

The protocol every task follows:

* a task is a **top-level function** and **picklable arguments** (a
  :class:`~lastmile.planning.problem.PlanningProblem`, numbers, plain
  tuples); its result is picklable too. Nothing is shared between tasks but
  what they are given: each may run on another machine;
* a task keeps to the time it is given: the caller stops *waiting* for it at
  its deadline, but neither kind of executor can stop a task that is running;
* a **worker lost mid-task** (killed, out of memory, the machine gone) costs
  the task one retry, not the run: Dask's scheduler gives the task to another
  worker on its own (up to ``distributed.scheduler.allowed-failures`` times,
  then the task's future raises ``KilledWorker``); a local pool whose process
  died is broken as a whole (:class:`~concurrent.futures.process.BrokenProcessPool`
  for every task on it), so :class:`LocalProcessPool` builds a fresh pool and
  submits each of those tasks again, once. A task that fails again (or raises
  an error of its own, which is never retried: it would fail the same way)
  has that error on its own future; the other tasks and the executor carry on.
  (In a local pool a task that kills its worker every time can take a task
  that was running beside it at both breaks down with it.) Callers collect
  each task's outcome separately and lose that task, not the run.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing as mp
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, InvalidStateError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from lastmile.exceptions import InputError, LastmileError

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")

#: Seconds to wait for a Dask scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 5.0
#: How many times a task is submitted again after its local worker process died.
LOCAL_RETRIES = 1
#: Address schemes a Dask scheduler is reached by.
SCHEDULER_SCHEMES = ("tcp", "tls")


class SchedulerUnreachable(LastmileError, ConnectionError):
    """A Dask scheduler that does not answer (or is not one)."""

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        super().__init__(f"the Dask scheduler at {address} is unreachable: {reason}")


def check_scheduler(scheduler: str, *, where: str = "scheduler") -> str:
    """``scheduler`` as a Dask address ``tcp://HOST:PORT``; :class:`InputError`
    naming ``where`` when it is not one."""
    address = scheduler.strip()
    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in SCHEDULER_SCHEMES or not parts.hostname or port is None:
        raise InputError(
            f"expected a Dask scheduler address such as tcp://HOST:8786, got {scheduler!r}",
            where=where,
        )
    if parts.path not in ("", "/") or parts.query or parts.username or parts.password:
        raise InputError(
            f"expected only scheme, host and port (tcp://HOST:PORT), got {scheduler!r}",
            where=where,
        )
    return f"{parts.scheme}://{parts.netloc}"


@contextlib.contextmanager
def open_executor(
    scheduler: str | None = None,
    *,
    workers: int | None = None,
    connect_timeout: float | None = None,
) -> Iterator[Executor]:
    """An executor for planning work, closed when the block ends.

    ``scheduler`` None (or empty): :class:`LocalProcessPool` of ``workers``
    processes (default: one per core). ``tcp://HOST:PORT``: the Dask cluster
    behind that scheduler; ``workers`` then only sets how many tasks the
    planner runs side by side (:func:`executor_slots`; default: the cluster's
    threads when connecting). ``connect_timeout`` defaults to
    :data:`CONNECT_TIMEOUT_S`. See the module docstring for the protocol.
    """
    if workers is not None and workers < 1:
        raise InputError(f"expected at least 1, got {workers}", where="workers")
    if scheduler is None or not scheduler.strip():
        pool = LocalProcessPool(workers)
        try:
            pool.warm()
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    address = check_scheduler(scheduler)
    client = _connect(address, CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout)
    try:
        executor = ClusterExecutor(client, address, workers)
        try:
            executor.warm()
            yield executor
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
    finally:
        client.close()  # type: ignore[no-untyped-call]


#: Seconds a task of an executor without a ``dispatch_s`` of its own spends in transit.
DISPATCH_S = 0.5
#: The largest share of a task's budget kept for its transit.
DISPATCH_SHARE = 0.1


def dispatch_s(executor: Executor, budget: float) -> float:
    """Seconds of a ``budget``-second task kept for shipping it to a worker and its
    result back: the executor's ``dispatch_s`` (measured round trips of a
    500-order problem's search), at most :data:`DISPATCH_SHARE` of the budget."""
    allowance = getattr(executor, "dispatch_s", DISPATCH_S)
    if not isinstance(allowance, int | float):
        allowance = DISPATCH_S
    return min(float(allowance), DISPATCH_SHARE * budget)


def executor_slots(executor: Executor) -> int:
    """How many tasks ``executor`` runs at the same time (at least 1): its
    ``slots``, a standard pool's ``max_workers``, or the number of cores."""
    for name in ("slots", "_max_workers"):
        value = getattr(executor, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return max(1, os.cpu_count() or 1)


def _connect(address: str, timeout: float) -> Client:
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise SchedulerUnreachable(address, "the distributed package is not installed") from exc
    try:
        return Client(address, timeout=timeout, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        raise SchedulerUnreachable(
            address,
            f"{reason} (is `dask scheduler` running there, and does this machine reach it?)",
        ) from exc


class ClusterExecutor(Executor):
    """A Dask client's executor (``pure=False``: every submission runs, even
    two identical ones), with the number of tasks the planner should run side
    by side as :attr:`slots`."""

    #: Transit of a search of a 500-order problem and its plan: pickled, sent to a
    #: worker, unpickled, and back (about 1 s measured on a busy 2-core machine).
    dispatch_s = 1.0

    def __init__(self, client: Client, address: str, slots: int | None = None) -> None:
        self.client = client
        self.address = address
        self._executor = client.get_executor(pure=False)  # type: ignore[no-untyped-call]
        self.slots = slots or max(1, sum(client.nthreads().values()))  # type: ignore[no-untyped-call]

    def warm(self) -> None:
        """Have every worker import :data:`PRELOAD` now (a no-op where done), so that
        the first tasks' time limits are not spent importing the planner;
        :class:`SchedulerUnreachable` when the workers cannot."""
        try:
            self.client.run(preload)
        except ImportError as exc:
            raise SchedulerUnreachable(
                self.address,
                f"its workers cannot import the planner ({exc}): install lastmile there",
            ) from exc

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = self._executor.submit(fn, *args, **kwargs)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        del cancel_futures  # the client executor releases what it has not delivered
        self._executor.shutdown(wait=wait)


#: Modules the fork server imports once, so that each worker starts with them loaded.
PRELOAD = ("lastmile.planning.solve", "lastmile.planning.engines.pyvrp.engine")


def process_context() -> Any:
    """The start method of :class:`LocalProcessPool`'s processes: ``forkserver``
    (safe from a process with threads, and quick: the server has imported
    :data:`PRELOAD`) where it exists, else ``spawn``."""
    if "forkserver" in mp.get_all_start_methods():
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOAD))
        return context
    return mp.get_context("spawn")


def preload() -> None:
    """Import :data:`PRELOAD` (run on every Dask worker by :meth:`ClusterExecutor.warm`)."""
    for name in PRELOAD:
        importlib.import_module(name)


def ready() -> int:
    """A task that does nothing but answer (its process id): starts a worker."""
    return os.getpid()


class LocalProcessPool(Executor):
    """A :class:`~concurrent.futures.ProcessPoolExecutor` that survives the death of
    its processes.

    A worker process that dies breaks a standard pool for good, and every task
    on it fails. This one then builds a fresh pool and submits each such task
    again, :data:`LOCAL_RETRIES` time(s); a task lost again fails with
    :class:`~concurrent.futures.process.BrokenProcessPool` on its own future.
    The returned futures are this pool's own, so a retry is invisible to the
    caller but for the time it took.
    """

    #: Transit of a task through the pool's pipes (0.3-0.5 s measured for a search
    #: of a 500-order problem on a busy 2-core machine).
    dispatch_s = 0.5

    def __init__(self, workers: int | None = None, *, retries: int = LOCAL_RETRIES) -> None:
        self.slots = max(1, workers or os.cpu_count() or 1)
        self.retries = retries
        self._context = process_context()
        self._lock = threading.Lock()
        self._closed = False
        self._pool = self._new_pool()
        #: How many times the pool was rebuilt after a worker died.
        self.rebuilds = 0

    def warm(self) -> None:
        """Start every worker process now, so that the first tasks' time limits are
        not spent starting them."""
        for future in [self.submit(ready) for _ in range(self.slots)]:
            future.result()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.slots, mp_context=self._context)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        outer: Future[T] = Future()
        self._launch(outer, fn, args, kwargs, self.retries)
        return outer

    def _launch(
        self,
        outer: Future[T],
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        retries: int,
    ) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new tasks after shutdown")
            pool = self._pool
            try:
                inner = pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:
                pool = self._renew_locked(pool)
                inner = pool.submit(fn, *args, **kwargs)

        def relay(done: Future[T]) -> None:
            if outer.done():
                return
            if done.cancelled():
                outer.cancel()
                return
            exc = done.exception()
            if isinstance(exc, BrokenProcessPool) and retries > 0 and not self._closed:
                try:
                    self._renew(pool)
                    self._launch(outer, fn, args, kwargs, retries - 1)
                except BaseException as again:  # shut down meanwhile: the task is lost
                    _settle(outer, exc=again)
                return
            if exc is not None:
                _settle(outer, exc=exc)
            else:
                _settle(outer, result=done.result())

        # Cancelling the caller's future cancels the task if it has not started.
        outer.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        inner.add_done_callback(relay)

    def _renew(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            self._renew_locked(broken)

    def _renew_locked(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """A fresh pool in place of ``broken`` (once, however many of its tasks ask)."""
        if self._pool is broken:
            broken.shutdown(wait=False)
            self._pool = self._new_pool()
            self.rebuilds += 1
        return self._pool

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            pool = self._pool
        pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _settle(future: Future[T], *, result: Any = None, exc: BaseException | None = None) -> None:
    """Give ``future`` its outcome unless it already has one (cancelled meanwhile)."""
    with contextlib.suppress(InvalidStateError):
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
