"""The ``serve`` command: ingest and learn continuously (registered by :func:`register`)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from faultcast.cli._alerts import AlertmanagerOption, NotifyOption, RulesOption
from faultcast.cli._common import command, configure_logging, emit, err, fail


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""

    @command(app)
    def serve(
        db: Annotated[
            Path,
            typer.Option(
                "--db",
                help="The faultcast store (a DuckDB file); one shard per worker of a group.",
                metavar="PATH",
                envvar="FAULTCAST_DB",
            ),
        ] = Path("faultcast.duckdb"),
        follow: Annotated[
            list[str] | None,
            typer.Option(
                "--follow", help="A JSON-lines file to tail (repeatable).", metavar="FILE"
            ),
        ] = None,
        kafka: Annotated[
            str | None,
            typer.Option(
                "--kafka",
                help="Kafka bootstrap servers, HOST:PORT[,HOST:PORT...].",
                metavar="SERVERS",
            ),
        ] = None,
        topic: Annotated[
            str | None,
            typer.Option("--topic", help="The Kafka topic of faultcast events.", metavar="TOPIC"),
        ] = None,
        group: Annotated[
            str,
            typer.Option(
                "--group",
                help="The consumer group (workers that share the topic).",
                metavar="GROUP",
            ),
        ] = "faultcast",
        dead_letter_topic: Annotated[
            str | None,
            typer.Option(
                "--dead-letter-topic",
                help="Send quarantined messages to this topic.",
                metavar="TOPIC",
            ),
        ] = None,
        batch_messages: Annotated[
            int,
            typer.Option(
                "--batch-messages", help="At most this many messages per batch.", metavar="N"
            ),
        ] = 20_000,
        http: Annotated[
            str | None,
            typer.Option(
                "--http",
                help="Serve the HTTP API (OTLP, Sentry and event ingest; risk, policy and "
                "queries) on HOST:PORT, e.g. 127.0.0.1:8080; see docs/serve.md.",
                metavar="HOST:PORT",
            ),
        ] = None,
        max_body: Annotated[
            int,
            typer.Option(
                "--max-body",
                help="Largest HTTP request body in bytes (413 past it).",
                metavar="BYTES",
            ),
        ] = 8 * 1024 * 1024,
        max_queue_events: Annotated[
            int,
            typer.Option(
                "--max-queue-events",
                help="Events waiting to be committed before HTTP ingest answers 429.",
                metavar="N",
            ),
        ] = 200_000,
        metrics_port: Annotated[
            int | None,
            typer.Option(
                "--metrics-port",
                help="Serve Prometheus metrics on this port (/metrics).",
                metavar="PORT",
            ),
        ] = None,
        metrics_host: Annotated[
            str,
            typer.Option(
                "--metrics-host", help="Address the metrics server listens on.", metavar="HOST"
            ),
        ] = "127.0.0.1",
        learn_every: Annotated[
            float,
            typer.Option("--learn-every", help="Seconds between learning runs.", metavar="SECONDS"),
        ] = 30.0,
        service: Annotated[
            str | None,
            typer.Option(
                "--service", help="Service name for events that carry none.", metavar="SERVICE"
            ),
        ] = None,
        session_key: Annotated[
            str | None,
            typer.Option(
                "--session-key",
                help="The JSON field (or a regex) of the session key.",
                metavar="FIELD|REGEX",
            ),
        ] = None,
        from_start: Annotated[
            bool,
            typer.Option("--from-start", help="Read followed files from their start.", metavar=""),
        ] = False,
        alert_every: Annotated[
            float,
            typer.Option(
                "--alert-every",
                help="Seconds between evaluations of the alert rules.",
                metavar="SECONDS",
            ),
        ] = 30.0,
        notify: NotifyOption = None,
        alertmanager: AlertmanagerOption = None,
        rules: RulesOption = None,
        json_out: Annotated[
            bool,
            typer.Option("--json", help="Print one JSON summary on stdout at exit.", metavar=""),
        ] = False,
        verbose: Annotated[
            bool, typer.Option("--verbose", "-v", help="Log to stderr.", metavar="")
        ] = False,
    ) -> None:
        """Ingest continuously from followed files, a Kafka consumer group and/or the HTTP API
        (--http: OTLP logs, Sentry SDKs, faultcast events; risk, policy and queries), learn as
        events arrive, evaluate the alert rules every --alert-every seconds (--notify,
        --alertmanager) and expose Prometheus metrics.

        Offsets are committed only after a batch is stored, and event ids make a redelivered
        message a no-op: each event is stored once.  SIGTERM or Ctrl-C finishes the batch in
        hand, commits it and exits 0.  Scale out by starting more workers with the same
        --group, each with its own --db shard; faultcast.connect([shards]) reads them as one.
        """
        # The options first: a mistake is reported before the models and Kafka load.
        if (kafka is None) != (topic is None):
            fail(ValueError("--kafka and --topic go together: give both"))
        if not follow and kafka is None and http is None:
            fail(
                ValueError(
                    "nothing to serve: give --follow FILE, --kafka HOST:PORT --topic T "
                    "and/or --http HOST:PORT"
                )
            )
        from faultcast.cli._common import check_number

        check_number(metrics_port, "--metrics-port", low=1, high=65535)
        check_number(learn_every, "--learn-every", low=0, low_open=True)
        check_number(alert_every, "--alert-every", low=0, low_open=True)
        check_number(batch_messages, "--batch-messages", low=1)
        check_number(max_body, "--max-body", low=1)
        check_number(max_queue_events, "--max-queue-events", low=1)
        http_options = None
        if http is not None:
            from faultcast.http import HttpOptions, is_loopback, parse_address

            try:
                host, port = parse_address(http)
            except ValueError as e:
                fail(e)
            http_options = HttpOptions(
                host,
                port,
                max_body_bytes=max_body,
                max_queue_events=max_queue_events,
                service=service,
            )
            if not is_loopback(host):
                err().print(
                    f"warning: serving HTTP on {host}, beyond this machine, without TLS: API "
                    "keys travel in the clear; put a TLS-terminating proxy in front"
                )
        from faultcast.cli._alerts import notifiers_from, settings_from

        alert_settings = settings_from(rules)
        notifiers_from(notify, alertmanager)  # a URL no notifier knows is refused here
        from faultcast.ingest.errors import FaultcastError
        from faultcast.ingest.kafka import KafkaSettings
        from faultcast.serve import ServeMetrics, ServeOptions, Server

        configure_logging(verbose)
        settings = None
        if kafka is not None and topic is not None:
            settings = KafkaSettings(
                kafka,
                topic=topic,
                group=group,
                dead_letter_topic=dead_letter_topic,
                batch_messages=batch_messages,
            )
        options = ServeOptions(
            db=db,
            follow=list(follow or ()),
            kafka=settings,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            learn_every=learn_every,
            service=service,
            session_key=session_key,
            from_start=from_start,
            http=http_options,
            alert_every=alert_every,
            notify=list(notify or ()),
            alertmanager=alertmanager,
            alerts=alert_settings,
        )
        server = Server(options, ServeMetrics(sdk_metrics=True))

        def on_signal(signum: int, frame: Any) -> None:
            server.stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if not json_out and err().is_terminal:
            err().print(f"serving into {db} (SIGTERM or Ctrl-C stops)")
        try:
            summary = server.run()
        except (FaultcastError, ValueError, OSError) as e:
            fail(e)
        if json_out:
            emit(summary.to_dict() | {"db": str(db)})
