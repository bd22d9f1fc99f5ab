"""`whistle-stack`: run Whistle locally on real Kafka and PostgreSQL, without Docker."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from .procs import StackError
from .services import SERVICES
from .stack import Stack

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)
console = Console()
COMPONENTS = ["kafka", "postgres", *SERVICES, "console"]


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(1)


@app.command()
def up(
    services: bool = typer.Option(True, help="Also start the four services."),
    timeout: float = typer.Option(90.0, help="Seconds to wait for readiness."),
) -> None:
    """Start Kafka, PostgreSQL (with the four databases) and the services."""
    stack = Stack()
    try:
        started = stack.up(None if services else [], timeout=timeout)
    except StackError as exc:
        _fail(exc)
    for name, seconds in started.ready_seconds.items():
        console.print(f"{name}: ready in {seconds:.1f}s")
    status()


@app.command()
def run(
    timeout: float = typer.Option(120.0, help="Seconds to wait for readiness."),
    summary_seconds: float = typer.Option(0, help="Stop the live summary after this (0: never)."),
    demo: bool = typer.Option(True, help="Start the hotline and department simulators."),
) -> None:
    """Start the whole system with the demo feed, print where to look, show a live summary."""
    from .demo import DEMO_ENV, start_simulators, watch

    stack = Stack()
    try:
        started = stack.up(timeout=timeout, extra_env=DEMO_ENV if demo else None)
    except StackError as exc:
        _fail(exc)
    for name, seconds in started.ready_seconds.items():
        console.print(f"{name}: ready in {seconds:.1f}s")
    if demo:
        start_simulators(stack)
    from .prometheus import LocalPrometheus

    prometheus = LocalPrometheus(stack.layout)
    if prometheus.start({n: stack.services.port(n) for n in SERVICES}):
        console.print(f"Prometheus: {prometheus.url} (rules and alerts from deploy/prometheus/)")
    else:
        console.print("Prometheus: not installed (apt-get install prometheus), skipped")
    status()
    console.print(
        f"\nconsole:   {stack.console.url} (指挥台 for street offices, departments and "
        "supervisors; sign in with a token from the README)\n"
        "API docs:  http://127.0.0.1:8001/docs (intake)  :8002/docs (dispatch)  "
        ":8003/docs (scoring)  :8004/docs (notify)\n"
        "metrics:   http://127.0.0.1:800[1-4]/metrics\n"
        "dashboards: docker compose up grafana (see README), or import deploy/grafana/dashboards\n"
        "messages:  http://127.0.0.1:8025/messages (SMS and e-mail notify delivered to the "
        "local sinks)\n"
        "logs:      .local/logs/ (sim-hotline.log, sim-departments.log, one per service)\n"
        "stop with: make stop\n")
    watch(stack, console, summary_seconds)


@app.command()
def down() -> None:
    """Stop every process this stack started (services, Kafka, local PostgreSQL)."""
    Stack().down()
    console.print("stopped")


@app.command()
def status() -> None:
    """Show what is running."""
    table = Table("component", "state")
    for name, state in Stack().status().items():
        table.add_row(name, state)
    console.print(table)


@app.command()
def start(component: str = typer.Argument(..., help=" | ".join(COMPONENTS))) -> None:
    """Start one component."""
    stack = Stack()
    try:
        if component == "kafka":
            stack.kafka.start()
        elif component == "postgres":
            stack.postgres.start()
        elif component in SERVICES:
            stack.services.start([component])
            took = stack.services.wait_ready([component])
            console.print(f"{component}: ready in {took[component]:.1f}s")
        elif component == "console":
            stack.console.start()
            console.print(f"console: ready in {stack.console.wait_ready():.1f}s "
                          f"at {stack.console.url}")
        else:
            _fail(StackError(f"unknown component {component!r}; one of {COMPONENTS}"))
    except StackError as exc:
        _fail(exc)


@app.command()
def stop(
    component: str = typer.Argument(..., help=" | ".join(COMPONENTS)),
    kill: bool = typer.Option(False, "--kill", help="SIGKILL instead of a clean stop."),
) -> None:
    """Stop one component (only if this stack started it)."""
    stack = Stack()
    if component == "kafka":
        stack.kafka.stop(kill=kill)
    elif component == "postgres":
        stack.postgres.kill() if kill else stack.postgres.stop()
    elif component in SERVICES:
        stack.services.stop([component], kill=kill)
    elif component == "console":
        stack.console.stop(kill=kill)
    else:
        _fail(StackError(f"unknown component {component!r}; one of {COMPONENTS}"))


def main() -> None:
    """Console entry point."""
    app()
