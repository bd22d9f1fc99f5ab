"""Department simulator: every department's kafka-python client acting on its orders.

Most departments acknowledge, arrive and resolve after realistic random delays; some are
slow (their cases go overdue and escalate), some send cases back (退单), and the street
office assigns returned cases by hand over HTTP, so every supervision path shows up.
"""

from __future__ import annotations

import heapq
import random
import re
import time
from dataclasses import dataclass

import httpx
import typer
from kafka import KafkaConsumer

from .department import DepartmentClient

app = typer.Typer(add_completion=False, help=__doc__)
RESULTS = ["已到现场处置完毕", "已责令整改并复查", "已协调相关单位解决", "已清理完毕", "已修复"]
RETURN_REASONS = ["非本部门职责", "地址不在辖区", "应由产权单位处理"]


@dataclass(frozen=True)
class Profile:
    """How a department behaves: delays in seconds and how often it returns a case."""

    ack: tuple[float, float] = (2, 10)
    arrive: tuple[float, float] = (2, 8)
    resolve: tuple[float, float] = (5, 30)
    returns: float = 0.0
    ignores: float = 0.0


PROFILES = {
    "zhujian": Profile(ack=(60, 240), resolve=(60, 300)),   # slow: goes overdue
    "jiaojing": Profile(ignores=0.25),                       # sometimes never answers
    "gongdian": Profile(returns=0.2),                        # returns some cases
    "wuye": Profile(returns=0.15, ack=(5, 30)),
}


class Simulator:
    """Consumes every order topic and schedules each department's reports."""

    def __init__(self, bootstrap: str, dispatch_url: str, operator_token: str,
                 secrets: dict[str, str] | None = None, seed: int | None = None,
                 intake_url: str = "http://127.0.0.1:8001") -> None:
        self.bootstrap, self.dispatch_url, self.intake_url = bootstrap, dispatch_url, intake_url
        self.operator = {"Authorization": f"Bearer {operator_token}"}
        self.secrets = secrets or {}
        self.rng = random.Random(seed)
        self.clients: dict[str, DepartmentClient] = {}
        self.queue: list[tuple[float, int, str, str, str, dict]] = []
        self.withdrawn: set[tuple[str, str]] = set()
        self.counter = 0
        self._leads: dict[str, str] = {}
        self.done = {"acknowledged": 0, "arrived": 0, "resolved": 0, "returned": 0,
                     "assigned": 0}

    def client(self, dept: str) -> DepartmentClient:
        if dept not in self.clients:
            self.clients[dept] = DepartmentClient(
                self.bootstrap, dept, secret=self.secrets.get(dept, f"dev-secret-{dept}"))
        return self.clients[dept]

    def schedule(self, delay: float, dept: str, case_id: str, kind: str, **fields) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (time.monotonic() + delay, self.counter, dept, case_id, kind,
                                    fields))

    def on_order(self, event: dict) -> None:
        data, dept = event.get("data", {}), event.get("data", {}).get("dept")
        case_id = event.get("subject")
        if event.get("type") == "dispatch.withdrawn.v1":
            self.withdrawn.add((dept, case_id))
            return
        if event.get("type") != "dispatch.ordered.v1":
            return  # dispatch.updated.v1: another caller on a case already being worked
        if not dept or not case_id:
            return
        if data.get("role") == "triage":
            self.schedule(self.rng.uniform(5, 15), dept, case_id, "assign")
            return
        profile = PROFILES.get(dept, Profile())
        if self.rng.random() < profile.ignores:
            return
        if self.rng.random() < profile.returns:
            self.schedule(self.rng.uniform(*profile.ack), dept, case_id, "returned",
                          reason=self.rng.choice(RETURN_REASONS))
            return
        t = self.rng.uniform(*profile.ack)
        self.schedule(t, dept, case_id, "acknowledged")
        t += self.rng.uniform(*profile.arrive)
        self.schedule(t, dept, case_id, "arrived")
        t += self.rng.uniform(*profile.resolve)
        self.schedule(t, dept, case_id, "resolved", result=self.rng.choice(RESULTS))

    def fire_due(self) -> None:
        while self.queue and self.queue[0][0] <= time.monotonic():
            _, _, dept, case_id, kind, fields = heapq.heappop(self.queue)
            if (dept, case_id) in self.withdrawn:
                continue
            try:
                if kind == "assign":
                    self.assign_by_suggestion(case_id, avoid=dept)
                else:
                    self.client(dept).report(case_id, kind, **fields)
                    self.done[kind] += 1
            except Exception as exc:  # noqa: BLE001 - a demo keeps going
                print(f"{dept} {kind} on {case_id} failed: {exc}", flush=True)

    def assign_by_suggestion(self, case_id: str, avoid: str | None = None) -> None:
        """The simulated street office: the classifier's best suggestion that another
        department leads (a real desk reads the text; see the console)."""
        case = httpx.get(f"{self.dispatch_url}/v1/cases/{case_id}", headers=self.operator,
                         timeout=10).json()
        tried = {a["dept"] for a in case.get("assignments", [])} | {avoid}
        lead_of = self.leads()
        where = {}
        if not (case.get("location") or {}).get("path"):
            # nobody could place the call: the desk calls the resident back (here: a community)
            where = {"place": self.rng.choice(self.communities())}
        for suggestion in case.get("suggestions") or []:
            if lead_of.get(suggestion["category"]) not in tried:
                httpx.post(f"{self.dispatch_url}/v1/cases/{case_id}/assign",
                           json={"category": suggestion["category"], "learn": False, **where},
                           headers=self.operator,
                           timeout=10)
                self.done["assigned"] += 1
                return
        if where:  # the category was given, only the place was missing
            httpx.post(f"{self.dispatch_url}/v1/cases/{case_id}/assign",
                       json={"category": case["category"], "learn": False, **where},
                       headers=self.operator, timeout=10)
            self.done["assigned"] += 1

    @staticmethod
    def communities() -> list[str]:
        from whistle_catalogue import load_territory

        return sorted(load_territory().communities)

    def leads(self) -> dict[str, str]:
        if not self._leads:
            body = httpx.get(f"{self.intake_url}/v1/categories",
                             timeout=10).json()
            self._leads = {c["code"]: c["lead"] for c in body["categories"]}
        return self._leads

    def work_triage(self) -> None:
        """Every so often, route what waits in the triage queue."""
        page = httpx.get(f"{self.dispatch_url}/v1/cases", params={"status": "triage",
                                                                  "limit": 50},
                         headers=self.operator, timeout=10).json()
        for item in page.get("items", []):
            self.assign_by_suggestion(item["case_id"])

    def run(self, seconds: float = 0) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id="department-sim",
                                 auto_offset_reset="latest", consumer_timeout_ms=200)
        consumer.subscribe(pattern=re.compile(r"^dispatch\.orders\..+"))
        start, last_print = time.monotonic(), 0.0
        import json

        while seconds <= 0 or time.monotonic() - start < seconds:
            for record in consumer.poll(timeout_ms=200).values():
                for message in record:
                    try:
                        self.on_order(json.loads(message.value))
                    except ValueError:
                        continue
            self.fire_due()
            if time.monotonic() - last_print > 10:
                last_print = time.monotonic()
                try:
                    self.work_triage()
                except Exception as exc:  # noqa: BLE001 - a demo keeps going
                    print(f"triage desk failed: {exc}", flush=True)
                print(f"department sim: {self.done} pending {len(self.queue)}", flush=True)
        consumer.close()
        for c in self.clients.values():
            c.close()


@app.command()
def main(bootstrap: str = typer.Option("127.0.0.1:9092", envvar="KAFKA_BOOTSTRAP_SERVERS"),
         dispatch_url: str = typer.Option("http://127.0.0.1:8002"),
         intake_url: str = typer.Option("http://127.0.0.1:8001"),
         operator_token: str = typer.Option("dev-operator-token",
                                            envvar="WHISTLE_OPERATOR_TOKEN"),
         seconds: float = typer.Option(0, help="0 runs until interrupted")) -> None:
    """Act as every department: acknowledge, arrive, resolve, sometimes return."""
    Simulator(bootstrap, dispatch_url, operator_token, intake_url=intake_url).run(seconds)


if __name__ == "__main__":
    app()
