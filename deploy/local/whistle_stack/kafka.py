"""Apache Kafka 3.9.1 in KRaft mode, run from Maven Central artifacts (no Docker, no tarball)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass

from .paths import Layout
from .procs import StackError, port_open, read_pid, spawn, stop_pid, wait_until

MAIN_CLASS = "kafka.Kafka"
HEAP = os.environ.get("KAFKA_HEAP", "512m")


@dataclass(frozen=True)
class KafkaCluster:
    """One or more local KRaft nodes, each broker and controller at once."""

    layout: Layout
    size: int = 1
    base_port: int = int(os.environ.get("KAFKA_PORT", "9092"))
    partitions: int = int(os.environ.get("KAFKA_PARTITIONS", "3"))

    def port(self, node_id: int) -> int:
        return self.base_port + (node_id - 1) * 100

    def controller_port(self, node_id: int) -> int:
        return self.port(node_id) + 1

    @property
    def name(self) -> str:
        return "kafka" if self.size == 1 else f"kafka-cluster{self.size}"

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port(n)}" for n in self.nodes)

    @property
    def nodes(self) -> range:
        return range(1, self.size + 1)

    def _node_dir(self, node_id: int):
        base = self.layout.kafka_node(node_id)
        return base if self.size == 1 else base.parent / f"{self.name}-node-{node_id}"

    def _pidname(self, node_id: int) -> str:
        return f"{self.name}-{node_id}"

    # -- install ------------------------------------------------------------------------------

    def ensure_libs(self) -> None:
        """Fetch the Kafka jars with Maven once; fail clearly without Java or Maven."""
        for tool in ("java", "mvn"):
            if shutil.which(tool) is None:
                raise StackError(
                    f"`{tool}` is not on PATH. The local Kafka runs from Maven Central jars and "
                    "needs a JDK 17+ and Apache Maven (Debian: apt-get install "
                    "openjdk-17-jre-headless maven), or point KAFKA_BOOTSTRAP_SERVERS at a broker."
                )
        libs = self.layout.kafka_libs
        if libs.exists() and any(libs.glob("kafka_2.13-*.jar")):
            return
        pom = self.layout.root / "deploy" / "kafka" / "pom.xml"
        tmp = libs.with_name("libs.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            "mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}", "-DincludeScope=runtime",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"Maven could not fetch Kafka:\n{result.stdout}\n{result.stderr}")
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)

    def _classpath(self) -> str:
        return str(self.layout.kafka_libs / "*")

    def _java(self, *args: str, heap: str = "256m") -> list[str]:
        log4j = self.layout.root / "deploy" / "kafka" / "log4j.properties"
        return [
            "java", f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC",
            "-Djava.awt.headless=true", f"-Dlog4j.configuration=file:{log4j}",
            "-cp", self._classpath(), *args,
        ]

    # -- configure and format -------------------------------------------------------------------

    def _render(self, node_id: int) -> str:
        template = (self.layout.root / "deploy" / "kafka" / "server.properties.in").read_text()
        replication = min(3, self.size)
        voters = ",".join(f"{n}@127.0.0.1:{self.controller_port(n)}" for n in self.nodes)
        values = {
            "NODE_ID": str(node_id),
            "QUORUM_VOTERS": voters,
            "PORT": str(self.port(node_id)),
            "CONTROLLER_PORT": str(self.controller_port(node_id)),
            "DATA_DIR": str(self._node_dir(node_id) / "data"),
            "PARTITIONS": str(self.partitions),
            "REPLICATION": str(replication),
            "MIN_ISR": str(2 if replication >= 3 else 1),
        }
        for key, value in values.items():
            template = template.replace(f"@{key}@", value)
        return template

    def _cluster_id(self) -> str:
        """The cluster's id (kept beside its nodes): a random UUID in URL-safe base64, as
        Kafka's own `random-uuid` makes it — and, as Kafka's `Uuid.randomUuid` does, never one
        starting with '-', which StorageTool's argument parser reads as an option (`-t -x…`:
        "expected one argument"; one fresh state in 64 failed to format). A marker left by
        such a failed format is replaced: no cluster was ever formatted with it."""
        marker = self._node_dir(1).parent / f"{self.name}.cluster-id"
        if marker.exists():
            cid = marker.read_text().strip()
            if cid and not cid.startswith("-"):
                return cid
        marker.parent.mkdir(parents=True, exist_ok=True)
        cid = "-"
        while cid.startswith("-"):
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        marker.write_text(cid)
        return cid

    def _format(self, node_id: int) -> None:
        node = self._node_dir(node_id)
        node.mkdir(parents=True, exist_ok=True)
        props = node / "server.properties"
        props.write_text(self._render(node_id))
        if (node / "data" / "meta.properties").exists():
            return  # formatted before: keep the topics and their data
        cmd = self._java(
            "kafka.tools.StorageTool", "format", "-t", self._cluster_id(), "-c", str(props),
            "--ignore-formatted",
        )
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"Kafka StorageTool format failed:\n{result.stdout}{result.stderr}")

    # -- run ------------------------------------------------------------------------------------

    def running_pid(self, node_id: int) -> int | None:
        return read_pid(self.layout.pidfile(self._pidname(node_id)), MAIN_CLASS)

    def start(self, *, timeout: float = 90.0) -> list[int]:
        """Start every node not already running; return the node ids this call started."""
        self.layout.ensure()
        self.ensure_libs()
        started = []
        for node_id in self.nodes:
            if self.running_pid(node_id):
                continue
            if port_open("127.0.0.1", self.port(node_id)):
                raise StackError(
                    f"port {self.port(node_id)} is taken by a process this stack did not start"
                )
            self._format(node_id)
            argv = self._java(MAIN_CLASS, str(self._node_dir(node_id) / "server.properties"),
                              heap=HEAP)
            spawn(argv, pidfile=self.layout.pidfile(self._pidname(node_id)),
                  logfile=self.layout.logfile(self._pidname(node_id)))
            started.append(node_id)
        for node_id in started:
            log = self.layout.logfile(self._pidname(node_id))
            wait_until(lambda n=node_id: self._broker_ready(n), timeout=timeout,
                       what=f"Kafka node {node_id} (log: {log})")
        return started

    def _broker_ready(self, node_id: int) -> bool:
        if self.running_pid(node_id) is None:
            log = self.layout.logfile(self._pidname(node_id))
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise StackError(f"Kafka node {node_id} exited during start-up:\n{tail}")
        if not port_open("127.0.0.1", self.port(node_id)):
            return False
        log = self.layout.logfile(self._pidname(node_id))
        return "Kafka Server started" in log.read_text(errors="replace")[-200_000:]

    def stop(self, node_ids: list[int] | None = None, *, kill: bool = False) -> None:
        """Stop the given nodes (default: all) that this stack started."""
        import signal

        for node_id in node_ids or list(self.nodes):
            pid = self.running_pid(node_id)
            if pid:
                stop_pid(pid, timeout=30, sig=signal.SIGKILL if kill else signal.SIGTERM)
            self.layout.pidfile(self._pidname(node_id)).unlink(missing_ok=True)
