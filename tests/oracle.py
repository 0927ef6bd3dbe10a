"""An independent answer to every sql/queries question, from the generated records alone.

Plain Python over the generator's JSON, not over the lake: a record counts when it is a JSON
object satisfying its family's contract (the contract's own JSON Schema decides, as the
collector does), once per event_id (re-sends dropped), with the contract's PII policy
applied to what analysts see. Each oracle returns the rows the query should return, as
dicts keyed by column name; a value `Rounded(x, places)` stands for SQL's round(x, places).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import hashlib
import itertools
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from jsonschema import Draft202012Validator

UTC = dt.UTC


@dataclasses.dataclass(frozen=True)
class Rounded:
    """An exact value the query shows rounded to `places` decimals."""

    value: float
    places: int

    def matches(self, got: Any) -> bool:
        return got is not None and abs(float(got) - self.value) <= 0.5 * 10**-self.places + 1e-9


def _loads(value: bytes) -> Any:
    # Strict JSON as silver reads it: UTF-8, no NaN; numbers kept exact for money.
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(text, parse_float=decimal.Decimal, parse_constant=no_constants)
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    """Decimals back to floats/ints for the JSON Schema check (it wants JSON numbers)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def valid_events(records: Iterable[Any], contracts: dict[str, Any]) -> dict[str, list[dict]]:
    """Per family, the events silver should hold: contract-valid objects, first per event_id."""
    validators = {f: Draft202012Validator(c.json_schema()) for f, c in contracts.items()}
    seen: set[tuple[str, str]] = set()
    out: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        event = _loads(r.value)
        if not isinstance(event, dict) or r.family not in validators:
            continue
        if not validators[r.family].is_valid(_plain(event)):
            continue
        key = (r.family, event["event_id"])
        if key in seen:
            continue
        seen.add(key)
        out[r.family].append(event)
    return out


# --- value helpers ---------------------------------------------------------------------------


def ms(epoch_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, UTC)


def iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def micros(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def to_ms(t: dt.datetime) -> int:
    return round(t.timestamp() * 1000)


def floor_to(t: dt.datetime, seconds: int) -> dt.datetime:
    return ms(to_ms(t) // (seconds * 1000) * seconds * 1000)


def sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def mask_ip(ip: str) -> str:
    parts = ip.split(".")
    return ".".join(parts[:3]) + ".0/24" if len(parts) == 4 else ip[:2] + "***"


def pii(contract: Any, field: str, value: Any) -> Any:
    """The value as the contract's PII policy shows it to analysts."""
    policy = contract.field(field).pii
    if value is None or policy in (None, "none", "keep"):
        return value
    return {"hash": sha256, "mask": mask_ip}.get(policy, lambda v: v)(str(value))


def top(rows: list[dict], key: Callable[[dict], Any], n: int, rank_col: str) -> list[dict]:
    """The first n rows by key, numbered 1.. in rank_col (row_number)."""
    ranked = sorted(rows, key=key)[:n]
    return [{**r, rank_col: i} for i, r in enumerate(ranked, 1)]


# --- the world as silver and gold see it -----------------------------------------------------


class World:
    def __init__(self, records: Iterable[Any], contracts: dict[str, Any]):
        self.contracts = contracts
        ev = valid_events(records, contracts)
        self.ev = ev
        self.rooms = {}
        for e in ev["game_room"]:
            name = e["room_name"]
            mode, tier = (s.strip() for s in name.split("--"))
            self.rooms[e["id"]] = {
                "room_name": name, "room_mode": mode, "room_tier": tier,
                "created_at": ms(e["created_date"]), "creator": e.get("creator_id"),
            }  # fmt: skip
        self.players = {
            e["player_id"]: {
                "player_name": pii(contracts["player"], "player_name", e["player_name"]),
                "ip": pii(contracts["player"], "ip", e["ip"]),
            }
            for e in ev["player"]
        }
        self.activity = []
        for e in ev["player_activity"]:
            room = self.rooms.get(e["game_room_id"], {})
            player = self.players.get(e["player_id"], {})
            x, y = (int(v) for v in e["coordinates"].strip("[] ").split(","))
            self.activity.append({
                "event_id": e["event_id"], "player_id": e["player_id"],
                "player_name": player.get("player_name"), "ip": player.get("ip"),
                "room_id": e["game_room_id"], "room_name": room.get("room_name"),
                "room_mode": room.get("room_mode"), "room_created_at": room.get("created_at"),
                "points": e["points"], "coord_x": x, "coord_y": y,
                "activity_at": ms(e["activity_ts"]),
            })  # fmt: skip
        self.scores = [
            {"user_id": e["user_id"], "team_id": e["team_id"], "score": e["score"],
             "at": ms(e["event_time_millis"]), "event_id": e["event_id"]}
            for e in ev["user_score"]
        ]  # fmt: skip
        self.api = [
            {**e, "at": micros(e["timestamp"]), "wealth": (e.get("player") or {}).get("wealth")}
            for e in ev["game_api"]
        ]

    # user_score_10s and the user_score_totals view
    def buckets(self) -> dict[tuple[str, str, dt.datetime], list[int]]:
        out: dict = defaultdict(lambda: [0, 0])
        for s in self.scores:
            b = out[(s["user_id"], s["team_id"], floor_to(s["at"], 10))]
            b[0] += s["score"]
            b[1] += 1
        return out

    def user_totals(self) -> list[dict]:
        per: dict = defaultdict(lambda: {"total_score": 0, "events": 0, "scored_until": None})
        for (user, team, start), (score, events) in self.buckets().items():
            t = per[(user, team)]
            t["total_score"] += score
            t["events"] += events
            end = start + dt.timedelta(seconds=10)
            t["scored_until"] = max(t["scored_until"] or end, end)
        return [{"user_id": u, "team_id": t, **v} for (u, t), v in per.items()]

    def profiles(self) -> dict[str, dict]:
        by_user: dict[str, list[dict]] = defaultdict(list)
        for e in self.api:
            by_user[e["user_id"]].append(e)
        out = {}
        for user, events in by_user.items():
            latest = max(events, key=lambda e: (e["at"], e["event_id"]))

            def first(pred, events=events):
                times = [e["at"] for e in events if pred(e)]
                return min(times) if times else None

            out[user] = {
                "wealth": latest["wealth"],
                "first_seen": min(e["at"] for e in events),
                "last_seen": max(e["at"] for e in events),
                "first_login": first(
                    lambda e: e["event_type"] == "login" and e.get("status") == "logged_in"
                ),
                "first_purchase": first(lambda e: e.get("status") == "approved_purchase"),
                "first_join": first(lambda e: e.get("status") == "joined"),
            }
        return out

    def funnel(self) -> dict[tuple[str, str], dict]:
        per: dict = {}
        last: dict = {}
        for e in self.ev["player_action"]:
            p = e["parameters"]
            at = iso(e["event_timestamp"])
            key = (p["session_id"], p["level_id"], p["map_id"])
            row = per.setdefault(key, {"player": p["player_id"], "events": 0, "completed": 0})
            row["events"] += 1
            row["completed"] |= p["event_type"] == "level_complete"
            cand = ((at, p["level_id"]), (p["level_id"], p["map_id"]))
            if p["session_id"] not in last or cand[0] > last[p["session_id"]][0]:
                last[p["session_id"]] = cand
        out: dict = {}
        for (session, level, map_id), row in per.items():
            agg = out.setdefault(
                (level, map_id),
                {"sessions": 0, "players": set(), "events": 0, "completed": 0, "stuck": 0},
            )
            agg["sessions"] += 1
            agg["players"].add(row["player"])
            agg["events"] += row["events"]
            agg["completed"] += row["completed"]
            agg["stuck"] += last[session][1] == (level, map_id) and not row["completed"]
        return out


# --- the oracles, one per sql/queries file ---------------------------------------------------

ORACLES: dict[str, Callable[[World], list[dict]]] = {}


def oracle(name: str):
    def register(fn):
        ORACLES[name] = fn
        return fn

    return register


def _avg(values: list[float]) -> float:
    return sum(values) / len(values)


# seed 000 ----------------------------------------------------------------------------------


@oracle("rooms/unique_players")
def _(w: World):
    return [{"unique_players": len({a["player_id"] for a in w.activity})}]


@oracle("rooms/points_max_min")
def _(w: World):
    points = [a["points"] for a in w.activity]
    return [{"max_points": max(points), "min_points": min(points)}]


@oracle("rooms/top_rooms_by_players")
def _(w: World):
    players, events = defaultdict(set), Counter()
    for a in w.activity:
        players[a["room_id"]].add(a["player_id"])
        events[a["room_id"]] += 1
    rows = [
        {"room_id": r, "room_name": w.rooms.get(r, {}).get("room_name"),
         "unique_players": len(players[r]), "activity_events": events[r]}
        for r in set(w.rooms) | set(players)
    ]  # fmt: skip
    return top(rows, lambda r: (-r["unique_players"], r["room_id"]), 5, "room_rank")


@oracle("rooms/top_players_by_max_points")
def _(w: World):
    best: dict = {}
    for a in w.activity:
        b = best.setdefault(a["player_id"], {"player_name": None, "max_points": -1})
        b["max_points"] = max(b["max_points"], a["points"])
        if a["player_name"] is not None:
            b["player_name"] = max(b["player_name"] or "", a["player_name"])
    rows = [{"player_id": p, **v} for p, v in best.items()]
    return top(rows, lambda r: (-r["max_points"], r["player_id"]), 10, "player_rank")


def _known_room_activity(w: World) -> list[dict]:
    return [a for a in w.activity if a["room_name"] is not None]


@oracle("rooms/avg_points_per_room_type")
def _(w: World):
    per = defaultdict(list)
    for a in _known_room_activity(w):
        per[a["room_name"]].append(a["points"])
    return [
        {"room_type": t, "activity_events": len(p), "avg_points": Rounded(_avg(p), 2)}
        for t, p in per.items()
    ]


@oracle("rooms/activity_share_per_room_type")
def _(w: World):
    per = Counter(a["room_name"] for a in _known_room_activity(w))
    total = sum(per.values())
    return [
        {"room_type": t, "activity_events": n, "share_pct": Rounded(100.0 * n / total, 2)}
        for t, n in per.items()
    ]


@oracle("rooms/daily_arcade_unique_players")
def _(w: World):
    per = defaultdict(set)
    for a in w.activity:
        if a["room_mode"] == "Arcade":
            per[(a["activity_at"].date(), a["room_name"])].add(a["player_id"])
    return [
        {"activity_date": d, "room_type": t, "unique_players": len(p)} for (d, t), p in per.items()
    ]


@oracle("rooms/top3_players_per_room_type")
def _(w: World):
    per = defaultdict(list)
    for a in _known_room_activity(w):
        per[(a["room_name"], a["player_id"])].append(a["points"])
    by_type = defaultdict(list)
    for (t, p), pts in per.items():
        by_type[t].append({"room_type": t, "player_id": p, "activity_events": len(pts),
                           "avg": _avg(pts)})  # fmt: skip
    out = []
    for rows in by_type.values():
        for r in top(rows, lambda r: (-r["avg"], r["player_id"]), 3, "player_rank"):
            out.append({**{k: v for k, v in r.items() if k != "avg"},
                        "avg_points": Rounded(r["avg"], 2)})  # fmt: skip
    return out


def _named_rooms(w: World) -> list[dict]:
    return [r for r in w.rooms.values() if r["room_name"] is not None]


@oracle("rooms/top_room_creators")
def _(w: World):
    rooms = [r for r in _named_rooms(w) if r["creator"] is not None]
    counts = Counter(r["creator"] for r in rooms)
    creators = top([{"c": c, "n": n} for c, n in counts.items()],
                   lambda r: (-r["n"], r["c"]), 3, "rank")  # fmt: skip
    out = []
    for c in creators:
        types = Counter(r["room_name"] for r in rooms if r["creator"] == c["c"])
        for t, n in types.items():
            out.append({"creator_rank": c["rank"], "creator_player_id": c["c"],
                        "rooms_created": c["n"], "room_type": t, "rooms_of_type": n})  # fmt: skip
    return out


@oracle("rooms/daily_room_creation_top_types")
def _(w: World):
    rooms = _named_rooms(w)
    counts = Counter(r["room_name"] for r in rooms)
    top_types = {t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]}
    per = Counter(
        (r["created_at"].date(), r["room_name"]) for r in rooms if r["room_name"] in top_types
    )
    return [{"created_date": d, "room_type": t, "rooms_created": n} for (d, t), n in per.items()]


@oracle("rooms/enriched_activity_latest")
def _(w: World):
    keep = ("event_id", "player_id", "player_name", "ip", "room_id", "room_name",
            "room_created_at", "points", "coord_x", "coord_y", "activity_at")  # fmt: skip
    latest = sorted(w.activity, key=lambda a: (a["activity_at"], a["event_id"]), reverse=True)[:20]
    return [{**{k: a[k] for k in keep}, "recency_rank": i} for i, a in enumerate(latest, 1)]


# seed 001 ----------------------------------------------------------------------------------


@oracle("combat/kd_ratio_per_player_5m")
def _(w: World):
    per = defaultdict(lambda: [0, 0])
    for e in w.ev["telemetry"]:
        k = per[(e["player_id"], floor_to(ms(e["timestamp"]), 300))]
        k[0 if e["event_type"] == "kill" else 1] += 1
    since = max(s for _, s in per) - dt.timedelta(minutes=55)
    windows = defaultdict(list)
    for (p, s), (k, d) in per.items():
        if s >= since:
            windows[s].append({"player_id": p, "kills": k, "deaths": d,
                               "kd": k / d if d else None})  # fmt: skip
    return [
        {"window_start": s, "window_end": s + dt.timedelta(minutes=5), "player_id": r["player_id"],
         "kills": r["kills"], "deaths": r["deaths"], "kills_rank": r["kills_rank"],
         "kd_ratio": Rounded(r["kd"], 2) if r["deaths"] else None}
        for s, rows in windows.items()
        for r in top(rows, lambda r: (-r["kills"], r["kd"] is None, -(r["kd"] or 0),
                                      r["player_id"]), 10, "kills_rank")
    ]  # fmt: skip


@oracle("combat/kd_leaders")
def _(w: World):
    per = defaultdict(lambda: [0, 0])
    for e in w.ev["telemetry"]:
        per[e["player_id"]][0 if e["event_type"] == "kill" else 1] += 1
    rows = [
        {"player_id": p, "kills": k, "deaths": d, "kd": k / d} for p, (k, d) in per.items() if d
    ]
    return [
        {"kd_rank": r["kd_rank"], "player_id": r["player_id"], "kills": r["kills"],
         "deaths": r["deaths"], "kd_ratio": Rounded(r["kd"], 2)}
        for r in top(rows, lambda r: (-r["kd"], -r["kills"], r["player_id"]), 10, "kd_rank")
    ]  # fmt: skip


# seed 002 ----------------------------------------------------------------------------------


@oracle("engagement/daily_active_players")
def _(w: World):
    seen, events = defaultdict(set), Counter()

    def add(player: str, at: dt.datetime):
        seen[at.date()].add(player)
        events[at.date()] += 1

    for e in w.ev["player_activity"]:
        add(f"player_{e['player_id']}", ms(e["activity_ts"]))
    for e in w.ev["telemetry"]:
        add(e["player_id"], ms(e["timestamp"]))
    for e in w.ev["player_action"]:
        add(e["parameters"]["player_id"], iso(e["event_timestamp"]))
    for e in w.ev["transaction"]:
        add(e["user_data"]["user_id"], iso(e["event_timestamp"]))
    for e in w.api:
        add(e["user_id"], e["at"])
    for s in w.scores:
        add(s["user_id"], s["at"])
    return [
        {"activity_date": d, "active_players": len(p), "events": events[d]} for d, p in seen.items()
    ]


@oracle("engagement/level_map_engagement")
def _(w: World):
    return [
        {"level_id": lvl, "map_id": m, "sessions": a["sessions"], "players": len(a["players"]),
         "events": a["events"], "completed_sessions": a["completed"],
         "completion_pct": Rounded(100.0 * a["completed"] / a["sessions"], 2)}
        for (lvl, m), a in w.funnel().items()
    ]  # fmt: skip


@oracle("engagement/where_players_get_stuck")
def _(w: World):
    per = defaultdict(lambda: [0, 0])
    for (lvl, _m), a in w.funnel().items():
        per[lvl][0] += a["sessions"]
        per[lvl][1] += a["stuck"]
    return [
        {"level_id": lvl, "sessions": s, "stuck_sessions": k,
         "stuck_pct": Rounded(100.0 * k / s, 2)}
        for lvl, (s, k) in per.items()
    ]  # fmt: skip


@oracle("economy/purchases_refunds_by_item_currency_platform")
def _(w: World):
    zero = decimal.Decimal(0)
    per: dict = {}
    for e in w.ev["transaction"]:
        p, u = e["parameters"], e["user_data"]
        row = per.setdefault((p["item_type"], p["currency"], u["platform"]),
                             {"purchases": 0, "refunds": 0, "purchase_amount": zero,
                              "refund_amount": zero})  # fmt: skip
        amount = decimal.Decimal(str(p["amount"]))
        kind = "purchase" if p["transaction_type"] == "purchase" else "refund"
        row[f"{kind}s"] += 1
        row[f"{kind}_amount"] += amount
    return [
        {"item_type": i, "currency": c, "platform": pl, **r,
         "net_amount": r["purchase_amount"] - r["refund_amount"]}
        for (i, c, pl), r in per.items()
    ]  # fmt: skip


@oracle("servers/server_health_per_region")
def _(w: World):
    per = defaultdict(list)
    for e in w.ev["server_metric"]:
        at = floor_to(iso(e["event_timestamp"]), 60)
        per[(at, e["server_data"]["region"])].append(e)
    out = []
    for (at, region), es in per.items():
        cpu = [float(e["parameters"]["cpu_load"]) for e in es]
        mem = [float(e["parameters"]["memory_usage"]) for e in es]
        lat = [float(e["parameters"]["latency"]) for e in es]
        out.append({
            "window_start": at, "region": region, "samples": len(es),
            "servers": len({e["parameters"]["server_id"] for e in es}),
            "max_cpu_load_pct": max(cpu), "max_latency_ms": max(lat),
            "overloaded_samples": sum(c > 90 for c in cpu),
            "avg_cpu_load_pct": Rounded(_avg(cpu), 2), "avg_memory_usage_pct": Rounded(_avg(mem), 2),
            "avg_latency_ms": Rounded(_avg(lat), 2),
        })  # fmt: skip
    return out


# seed 003 ----------------------------------------------------------------------------------


@oracle("player_state/items_bought_per_type_and_status")
def _(w: World):
    per = Counter(
        (e.get("status"), e.get("type"))
        for e in w.api
        if e["event_type"] in ("buy_sword", "buy_spell")
    )
    return [{"status": s, "item_name": i, "items": n} for (s, i), n in per.items()]


@oracle("player_state/avg_price_per_item_type")
def _(w: World):
    per = defaultdict(list)
    for e in w.api:
        if e.get("status") == "approved_purchase":
            per[e.get("type")].append(float(e["cost"]))
    return [
        {"item_name": i, "purchases": len(c), "avg_cost_gold": Rounded(_avg(c), 2)}
        for i, c in per.items()
    ]


@oracle("player_state/most_popular_org")
def _(w: World):
    per = Counter((e["event_type"], e.get("org")) for e in w.api if e.get("status") == "joined")
    return [{"event_type": t, "org": o, "joins": n} for (t, o), n in per.items()]


@oracle("player_state/avg_wealth_of_joiners_per_org")
def _(w: World):
    per = defaultdict(list)
    for e in w.api:
        if e.get("status") == "joined":
            per[e.get("org")].append(e["wealth"])
    return [
        {"org": o, "joins": len(ws),
         "avg_wealth": Rounded(_avg([float(x) for x in ws if x is not None]), 2)}
        for o, ws in per.items()
    ]  # fmt: skip


@oracle("player_state/time_to_first_purchase_and_org_join")
def _(w: World):
    logged = [p for p in w.profiles().values() if p["first_login"] is not None]

    def gaps(key):
        return [(p[key] - p["first_login"]).total_seconds() for p in logged
                if p[key] is not None and p[key] >= p["first_login"]]  # fmt: skip

    to_buy, to_join = gaps("first_purchase"), gaps("first_join")
    return [{
        "players_logged_in": len(logged),
        "players_purchased": len(to_buy),
        "mean_s_to_first_purchase": Rounded(_avg(to_buy), 1) if to_buy else None,
        "players_joined_org": len(to_join),
        "mean_s_to_first_org_join": Rounded(_avg(to_join), 1) if to_join else None,
    }]  # fmt: skip


@oracle("player_state/wealth_distribution")
def _(w: World):
    bands = Counter(
        int(math.floor(float(p["wealth"]) / 1000) * 1000)
        for p in w.profiles().values()
        if p["wealth"] is not None
    )
    return [{"wealth_from": b, "wealth_to": b + 1000, "players": n} for b, n in bands.items()]


@oracle("player_state/wealth_vs_time_played")
def _(w: World):
    labels = ["< 1 min", "1-10 min", "10-60 min", "1-6 h", "6-24 h", "1 day +"]
    edges = [60, 600, 3600, 21600, 86400]
    per = defaultdict(list)
    for p in w.profiles().values():
        if p["wealth"] is None:
            continue
        played = (p["last_seen"] - p["first_seen"]).total_seconds()
        band = next((i + 1 for i, e in enumerate(edges) if played < e), 6)
        per[band].append(float(p["wealth"]))
    return [
        {"band": b, "time_played": labels[b - 1], "players": len(ws),
         "avg_wealth": Rounded(_avg(ws), 2), "min_wealth": min(ws), "max_wealth": max(ws)}
        for b, ws in per.items()
    ]  # fmt: skip


# seed 004 ----------------------------------------------------------------------------------


@oracle("leaderboards/top_teams")
def _(w: World):
    per = defaultdict(lambda: [0, set()])
    for t in w.user_totals():
        per[t["team_id"]][0] += t["total_score"]
        per[t["team_id"]][1].add(t["user_id"])
    rows = [{"team_id": t, "team_score": s, "players": len(u)} for t, (s, u) in per.items()]
    return top(rows, lambda r: (-r["team_score"], r["team_id"]), 10, "team_rank")


@oracle("leaderboards/top_players")
def _(w: World):
    rows = [{k: t[k] for k in ("user_id", "team_id", "total_score")} for t in w.user_totals()]
    return top(rows, lambda r: (-r["total_score"], r["user_id"]), 10, "player_rank")


@oracle("leaderboards/hot_streakers")
def _(w: World):
    windows = w.buckets()
    per_user = defaultdict(list)
    for (user, _team, start), (score, events) in windows.items():
        per_user[user].append((start, score, events))
    # "Right now": the streaks of the last 5 minutes of play (the seed's state TTL).
    since = max(start for _, _, start in windows) - dt.timedelta(minutes=5)
    hot = {}
    for user, buckets in per_user.items():
        best = None
        for start, score, events in buckets:
            if start < since:
                continue
            recent = [b for b in buckets if start - dt.timedelta(seconds=50) <= b[0] <= start]
            long_avg = sum(b[1] for b in recent) / sum(b[2] for b in recent)
            if long_avg != 0:
                ratio = (score / events) / long_avg
                best = ratio if best is None else max(best, ratio)
        if best is not None:
            hot[user] = best
    rows = [{"user_id": u, "h": h} for u, h in hot.items()]
    return [
        {
            "streak_rank": r["streak_rank"],
            "user_id": r["user_id"],
            "hotness_ratio": Rounded(r["h"], 3),
        }
        for r in top(rows, lambda r: (-r["h"], r["user_id"]), 10, "streak_rank")
    ]


@oracle("leaderboards/team_mvps")
def _(w: World):
    totals = w.user_totals()
    team_score = Counter()
    for t in totals:
        team_score[t["team_id"]] += t["total_score"]
    best = {}
    for t in totals:
        ts = team_score[t["team_id"]]
        if ts <= 0:
            continue
        row = {**t, "team_score": ts, "share": t["total_score"] / ts}
        cur = best.get(t["team_id"])
        if cur is None or (-row["share"], row["user_id"]) < (-cur["share"], cur["user_id"]):
            best[t["team_id"]] = row
    ranked = top(list(best.values()), lambda r: (-r["share"], r["team_id"]), 10, "mvp_rank")
    return [
        {"mvp_rank": r["mvp_rank"], "team_id": r["team_id"], "user_id": r["user_id"],
         "total_score": r["total_score"], "team_score": r["team_score"],
         "share_pct": Rounded(100 * r["share"], 2)}
        for r in ranked
    ]  # fmt: skip


# classic -----------------------------------------------------------------------------------


@oracle("classic/user_totals")
def _(w: World):
    rows = [
        {k: t[k] for k in ("user_id", "team_id", "total_score", "events")} for t in w.user_totals()
    ]
    return top(rows, lambda r: (-r["total_score"], r["user_id"]), 100, "score_rank")


@oracle("classic/hourly_team_scores")
def _(w: World):
    per = defaultdict(lambda: [0, 0, set()])
    for s in w.scores:
        r = per[(s["team_id"], floor_to(s["at"], 3600))]
        r[0] += s["score"]
        r[1] += 1
        r[2].add(s["user_id"])
    return [
        {"team_id": t, "hour_start": h, "score": sc, "events": n, "players": len(u)}
        for (t, h), (sc, n, u) in per.items()
    ]


@oracle("classic/running_leaderboard")
def _(w: World):
    totals = w.user_totals()
    out = []
    for t in totals:
        rank = 1 + sum(o["total_score"] > t["total_score"] for o in totals)
        if rank <= 20:
            out.append({"user_id": t["user_id"], "team_id": t["team_id"],
                        "total_score": t["total_score"], "scored_until": t["scored_until"],
                        "leaderboard_rank": rank})  # fmt: skip
    return out


@oracle("classic/abuse_detection")
def _(w: World):
    per = Counter()
    for s in w.scores:
        per[(floor_to(s["at"], 3600), s["user_id"])] += s["score"]
    # The last 24 hours of play: the latest event-time hour and the 23 before it.
    since = max(h for h, _ in per) - dt.timedelta(hours=23)
    by_hour = defaultdict(list)
    for (h, u), sc in per.items():
        if h >= since:
            by_hour[h].append((u, sc))
    out = []
    for h, users in by_hour.items():
        mean = _avg([sc for _, sc in users])
        for u, sc in users:
            if sc > 2.5 * mean:
                out.append({"hour_start": h, "user_id": u, "score": sc,
                            "mean_score": Rounded(mean, 2), "times_mean": Rounded(sc / mean, 2)})  # fmt: skip
    return out


@oracle("classic/session_lengths")
def _(w: World):
    per_user = defaultdict(list)
    for s in w.scores:
        per_user[s["user_id"]].append(s)
    sessions = []
    for scores in per_user.values():
        scores.sort(key=lambda s: (s["at"], s["event_id"]))
        current = [scores[0]]
        for prev, s in itertools.pairwise(scores):
            if to_ms(s["at"]) - to_ms(prev["at"]) > 300_000:
                sessions.append(current)
                current = []
            current.append(s)
        sessions.append(current)
    per_hour = defaultdict(list)
    for sess in sessions:
        length = (sess[-1]["at"] - sess[0]["at"]).total_seconds()
        per_hour[floor_to(sess[0]["at"], 3600)].append((length, len(sess)))
    return [
        {"hour_start": h, "sessions": len(v), "avg_length_s": Rounded(_avg([x for x, _ in v]), 1),
         "max_length_s": max(x for x, _ in v), "avg_events": Rounded(_avg([n for _, n in v]), 2)}
        for h, v in per_hour.items()
    ]  # fmt: skip


# --- comparing -------------------------------------------------------------------------------


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, Rounded):
        return expected.matches(got)
    if expected is None or got is None:
        return expected is got
    if isinstance(expected, float) or isinstance(got, float):
        return math.isclose(float(expected), float(got), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, dt.datetime) and isinstance(got, dt.datetime):
        return expected == got
    return expected == got


def _sort_key(row: dict, columns: list[str]) -> tuple:
    key = []
    for c in columns:
        v = row[c]
        if isinstance(v, Rounded):
            v = v.value
        if isinstance(v, (float, decimal.Decimal)):
            key.append((1, "", round(float(v), 1)))
        elif v is None:
            key.append((0, "", 0.0))
        else:
            key.append((2, str(v), 0.0))
    return tuple(key)


def differences(expected: list[dict], columns: list[str], rows: list[tuple]) -> list[str]:
    """What differs between the oracle's rows and Trino's (empty when they agree)."""
    if not expected:
        return ["the oracle expects no rows: the data set does not exercise this question"]
    want_cols = list(expected[0])
    if sorted(want_cols) != sorted(columns):
        return [f"columns: expected {sorted(want_cols)}, got {sorted(columns)}"]
    got = [dict(zip(columns, r, strict=True)) for r in rows]
    if len(got) != len(expected):
        return [f"{len(got)} rows, expected {len(expected)}"]
    problems = []
    for e, g in zip(sorted(expected, key=lambda r: _sort_key(r, want_cols)),
                    sorted(got, key=lambda r: _sort_key(r, want_cols)), strict=True):  # fmt: skip
        bad = [c for c in want_cols if not _same(e[c], g[c])]
        if bad:
            problems.append(f"expected {e} got {g} (differs in {bad})")
    return problems[:10]
