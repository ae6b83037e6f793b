"""What a running service is made of, and the FastAPI app that starts and stops it.

A service's `app.py` builds a `ServiceRuntime` from its settings, registers its subscriptions
and background jobs, and calls `create_app`; the broker lives in the app's lifespan. Everything a
use case needs of it comes through a `UnitOfWork` (see `unit_of_work.py` and `dependencies.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from faststream.rabbit import RabbitBroker
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus_common.asyncapi import asyncapi_document
from chorus_common.auth import Principal, TokenVerifier
from chorus_common.clock import Clock, SystemClock, paris_day
from chorus_common.db import DirectReads, create_engine
from chorus_common.health import health_router
from chorus_common.http import install_http_middleware, refuse_control_characters
from chorus_common.messaging.consumer import EventConsumer, ReceivedEvent
from chorus_common.messaging.inbox import inbox_table
from chorus_common.messaging.outbox import OutboxRelay, outbox_table
from chorus_common.messaging.topology import EVENTS_EXCHANGE, create_broker, declare_topology
from chorus_common.problems import document_problems, install_problem_handlers
from chorus_common.retention import RetentionRule, older_than, purge
from chorus_common.settings import ServiceSettings
from chorus_common.unit_of_work import UnitOfWork

logger = logging.getLogger("chorus.runtime")

BackgroundJob = Callable[[], Coroutine[Any, Any, None]]
# A daily sweep: does what is due on a Europe/Paris day, in its own unit of work; how many it did.
Sweep = Callable[[UnitOfWork, date], Awaitable[int]]
# A subscriber: handles an event within the consumer's transaction, which records it in the inbox.
EventHandler = Callable[[ReceivedEvent, UnitOfWork], Awaitable[None]]
# Handles several events in one transaction, e.g. to write their effects in one statement.
BatchHandler = Callable[[list[ReceivedEvent], UnitOfWork], Awaitable[None]]
# What an authenticated caller may act for, decided from its token (see `replica.rights_from_replica`).
Rights = Callable[[Principal], Awaitable[Principal]]


def messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The outbox and inbox tables, added to a service's own metadata."""
    return outbox_table(metadata), inbox_table(metadata)


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    outbox: sa.Table
    inbox: sa.Table
    clock: Clock = field(default_factory=SystemClock)
    engine: AsyncEngine = field(init=False)
    direct_reads: DirectReads = field(init=False)
    broker: RabbitBroker = field(init=False)
    relay: OutboxRelay = field(init=False)
    consumer: EventConsumer = field(init=False)
    broker_connected: bool = field(default=False, init=False)
    # None: the token's `structures` claim is what the caller acts for.
    rights: Rights | None = field(default=None, init=False)
    _jobs: list[BackgroundJob] = field(default_factory=list, init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)
    _feeds: list[str] = field(default_factory=list, init=False)
    _retention: list[RetentionRule] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        outbox, inbox = self.outbox.c, self.inbox.c
        self.retain(
            RetentionRule(
                "published outbox rows",
                self.outbox,
                older_than(
                    outbox.published_at,
                    timedelta(days=settings.retention_outbox_days),
                    outbox.published_at.is_not(None),
                ),
            )
        )
        self.retain(
            RetentionRule(
                "inbox ids",
                self.inbox,
                older_than(inbox.processed_at, timedelta(days=settings.retention_inbox_days)),
            )
        )
        self.engine = create_engine(settings.database_url, settings.db_pool_size)
        self.direct_reads = DirectReads(settings.database_url, settings.db_pool_size)
        self.broker = create_broker(settings.rabbitmq_url)
        self.relay = OutboxRelay(
            settings.service_name,
            self.engine,
            self.outbox,
            settings.rabbitmq_url,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_interval_seconds,
        )
        self.consumer = EventConsumer(
            settings.service_name,
            self.broker,
            self.engine,
            self.inbox,
            delivery_limit=settings.consumer_delivery_limit,
            prefetch=settings.consumer_prefetch,
            retry_delay=settings.consumer_retry_delay_seconds,
            concurrency=settings.consumer_concurrency,
            batch_size=settings.consumer_batch_size,
            on_committed=self.relay.wake,
            trusted_producers=settings.trusted_producers,
        )

    def unit_of_work(
        self, principal: Principal | None = None, joined: AsyncConnection | None = None
    ) -> UnitOfWork:
        """A unit of work of this service, for `principal` when a caller is known; `joined` to a
        transaction already open (a consumer's, which commits it)."""
        return UnitOfWork(
            self.engine,
            self.outbox,
            self.clock,
            self.settings.event_source,
            self.direct_reads,
            self.relay.wake,
            principal,
            joined,
        )

    def subscribe(self, event_type: str, handler: EventHandler) -> None:
        """Consume `event_type` (only when this process runs the worker role)."""
        if self.settings.runs_worker:

            async def in_consumer_transaction(event: ReceivedEvent, conn: AsyncConnection) -> None:
                await handler(event, self.unit_of_work(joined=conn))

            self.consumer.subscribe(event_type, in_consumer_transaction)

    def subscribe_batched(self, event_types: Iterable[str], handler: BatchHandler) -> None:
        """Consume `event_types` together in batches, each batch in one transaction (worker role only)."""
        if self.settings.runs_worker:

            async def in_consumer_transaction(events: list[ReceivedEvent], conn: AsyncConnection) -> None:
                await handler(events, self.unit_of_work(joined=conn))

            batcher = self.consumer.batcher(in_consumer_transaction)
            for event_type in event_types:
                self.consumer.subscribe_batched(event_type, in_consumer_transaction, batcher)

    def add_job(self, job: BackgroundJob) -> None:
        """A long-running coroutine started with the worker role (e.g. a periodic sweep)."""
        self._jobs.append(job)

    def add_sweep(self, what: str, interval_seconds: float, sweep: Sweep) -> None:
        """Run `sweep` for today's Europe/Paris day every `interval_seconds` in the worker role (none
        when 0: a CronJob runs the same sweep as a command). A sweep is idempotent for its day: a failed
        run is logged and the next one does the work."""
        if interval_seconds <= 0:
            return

        async def periodically() -> None:
            while True:
                try:
                    done = await sweep(self.unit_of_work(), paris_day(self.clock.now()))
                    if done:
                        logger.info("%s: %d done", what, done)
                except Exception:
                    logger.warning("%s failed", what, exc_info=True)
                await asyncio.sleep(interval_seconds)

        self.add_job(periodically)

    def retain(self, rule: RetentionRule) -> None:
        """Delete (or erase) what `rule` selects at each retention run."""
        self._retention.append(rule)

    async def apply_retention(self) -> dict[str, int]:
        """Run every retention rule now; how many rows each deleted (or erased)."""
        now = self.clock.now()
        return {
            rule.what: await purge(self.engine, rule, now, self.settings.retention_batch_size)
            for rule in self._retention
        }

    def _retention_job(self) -> BackgroundJob:
        async def periodically() -> None:
            while True:
                try:
                    done = {what: count for what, count in (await self.apply_retention()).items() if count}
                    if done:
                        logger.info("retention: %s", done)
                except Exception:
                    logger.warning("retention failed", exc_info=True)
                await asyncio.sleep(self.settings.retention_interval_seconds)

        return periodically

    async def database_ready(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return True

    async def broker_ready(self) -> bool:
        return self.broker_connected and await self.broker.ping(timeout=1.0)

    async def _connect_broker(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.broker.connect()
                await declare_topology(self.broker, self.settings.service_name, self._feeds)
                await self.broker.start()
            except Exception as exc:
                logger.warning("RabbitMQ not reachable yet (%r), retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self.broker_connected = True
            logger.info("connected to RabbitMQ")
            return

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._connect_broker(), name="broker-connect"))
        if self.settings.runs_worker:
            self.relay.start()
            self._tasks.extend(asyncio.create_task(job()) for job in self._jobs)
            if self.settings.retention_interval_seconds > 0:
                self._tasks.append(asyncio.create_task(self._retention_job()(), name="retention"))

    async def stop(self) -> None:
        self.consumer.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.relay.stop()
        with contextlib.suppress(Exception):
            await self.broker.stop()
        await self.consumer.wait_in_flight(within=10)
        await self.engine.dispose()
        await self.direct_reads.close()

    def declare_publication(self, event_type: str) -> None:
        """Name an event type this service publishes (through the outbox), for its AsyncAPI document."""
        self.broker.publisher(
            exchange=EVENTS_EXCHANGE,
            routing_key=event_type,
            title=event_type,
            description=f"{self.settings.service_name} publishes {event_type} through its outbox",
            persist=True,
        )

    def declare_feed(self, event_type: str) -> None:
        """Name an event type this service publishes for systems outside the platform: besides the
        publication, a bounded queue keeps it until they read it (`topology.feed_queue`)."""
        self.declare_publication(event_type)
        self._feeds.append(event_type)

    def asyncapi(self, title: str, version: str) -> dict[str, Any]:
        return asyncapi_document(self.broker, self.settings.service_name, title, version)


@asynccontextmanager
async def command_runtime(
    settings: ServiceSettings, outbox: sa.Table, inbox: sa.Table
) -> AsyncIterator[ServiceRuntime]:
    """A runtime for a one-off command (a job a CronJob runs, an import, a replay): one database
    connection, no broker (what it publishes goes to the outbox, which the service's relay
    publishes), closed when the command is done."""
    runtime = ServiceRuntime(settings.model_copy(update={"db_pool_size": 1}), outbox, inbox)
    try:
        yield runtime
    finally:
        await runtime.engine.dispose()
        await runtime.direct_reads.close()


def readiness_checks(runtime: ServiceRuntime) -> dict[str, Callable[[], Awaitable[bool]]]:
    """What a process must reach to be ready, by its role: the `api` role its database only (what it
    publishes waits in the outbox, so a broker outage must not take the HTTP API out of its Service);
    the `worker` role (relay, consumers, jobs) its database and RabbitMQ; `all` both."""
    checks: dict[str, Callable[[], Awaitable[bool]]] = {"database": runtime.database_ready}
    if runtime.settings.runs_worker:
        checks["rabbitmq"] = runtime.broker_ready
    return checks


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    version: str,
    description: str,
    routers: list[APIRouter],
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    """The service's FastAPI app: its routers, health and metrics, problems, and the runtime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            if on_shutdown is not None:
                await on_shutdown()

    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        dependencies=[Depends(refuse_control_characters)],
    )
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier(runtime.settings)
    install_problem_handlers(app)
    document_problems(app)
    install_http_middleware(
        app, runtime.settings.service_name, runtime.settings.max_json_bytes, runtime.settings.max_upload_bytes
    )
    app.include_router(health_router(readiness_checks(runtime)))
    if runtime.settings.runs_api:
        for router in routers:
            app.include_router(router)

    @app.get("/asyncapi.json", tags=["operations"], summary="AsyncAPI document of this service's events")
    async def asyncapi_json() -> dict[str, Any]:
        return runtime.asyncapi(title, version)

    # The routers' own routes: FastAPI keeps an included router as one route of the app.
    routes = [*app.routes, *(route for router in routers for route in router.routes)]
    ids = [operation_id(route) for route in routes if isinstance(route, APIRoute)]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"two operations of {title} share an operationId: {repeated}")
    return app


def operation_id(route: APIRoute) -> str:
    """The OpenAPI operationId of a route: its handler's name in camelCase (`actOnInvoice`)."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)
