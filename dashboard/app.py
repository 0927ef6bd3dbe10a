"""The gamelake live dashboard (Streamlit) over gold, with silver/ops where gold has no table.

Run it with `make dashboard`, or:

    GAMELAKE_TRINO_CATALOG=delta .venv/bin/streamlit run dashboard/app.py

It reads through Trino as the read-only `analyst` user (GAMELAKE_TRINO_HOST/PORT/CATALOG/USER
pick the server and lake) and redraws every GAMELAKE_DASHBOARD_REFRESH_S seconds (default 30).
Charts ask the business questions of sql/queries, so they match `gamelake query` and the
notebooks.
"""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import streamlit as st

from gamelake.analyst import Lake, ask, connect, frame, tables
from gamelake.errors import GamelakeError

# Entry point: the only place the dashboard reads the environment.
LAKE = Lake.from_env(dict(os.environ))
REFRESH_S = float(os.environ.get("GAMELAKE_DASHBOARD_REFRESH_S", "30"))

st.set_page_config(page_title="gamelake", page_icon=":video_game:", layout="wide")


def chart(key: str, title: str, df: pd.DataFrame, x: str, y: str | list[str], *, kind="bar",
          source: str = "") -> None:  # fmt: skip
    """One titled chart in a keyed container (class st-key-<key>), with its row count."""
    with st.container(key=key, border=True):
        st.subheader(title)
        if df.empty:
            st.info("No rows in this lake yet.")
        elif kind == "line":
            st.line_chart(df, x=x, y=y)
        else:
            st.bar_chart(df, x=x, y=y, horizontal=kind == "barh")
        st.caption(f"{len(df)} rows · {source}")


def kd_leaders(conn) -> pd.DataFrame:
    """The 10 players with the best K/D over all their 5-minute windows (deaths > 0)."""
    kd = ask(conn, "combat/kd_leaders").df
    if kd.empty:
        return pd.DataFrame(columns=["player", "kd_ratio"])
    return kd.assign(player=kd.player_id.astype(str))


def quality(conn, available: set[str]) -> tuple[pd.DataFrame, str, str]:
    """Pass rate per table from ops.dq_results; accepted share per family until it exists."""
    if "ops.dq_results" in available:
        df = frame(
            conn,
            "select layer || '.' || table_name as checked_table, "
            "round(100.0 * count_if(passed) / count(*), 2) as pass_pct "
            "from ops.dq_results group by 1 order by 1",
        )
        return df, "pass_pct", "ops.dq_results"
    families = frame(
        conn,
        "select table_name from information_schema.columns "
        "where table_schema = 'silver' and column_name = 'family'",
    ).table_name
    accepted = {f: frame(conn, f"select count(*) as n from silver.{f}").n[0] for f in families}
    rejected = frame(conn, "select family, count(*) as n from ops.quarantine group by family")
    rejected = dict(zip(rejected.family, rejected.n, strict=True))
    df = pd.DataFrame(
        [
            {
                "checked_table": f"silver.{f}",
                "pass_pct": round(100.0 * n / max(n + rejected.get(f, 0), 1), 2),
            }
            for f, n in sorted(accepted.items())
        ],
        columns=["checked_table", "pass_pct"],
    )
    return df, "pass_pct", "silver rows vs ops.quarantine (ops.dq_results not in this lake yet)"


@st.fragment(run_every=dt.timedelta(seconds=REFRESH_S))
def board() -> None:
    """Every tile, redrawn on the refresh interval."""
    conn = connect(LAKE)
    available = tables(conn)

    unique = ask(conn, "rooms/unique_players").df
    dau = ask(conn, "engagement/daily_active_players").df
    store = ask(conn, "economy/purchases_refunds_by_item_currency_platform").df
    dq, dq_col, dq_source = quality(conn, available)

    m1, m2, m3, m4 = st.columns(4)
    with m1, st.container(key="metric_unique_players"):
        st.metric("Unique players", f"{int(unique.unique_players[0]):,}")
    with m2, st.container(key="metric_active_players"):
        # Rows whose date Python cannot hold (NaT) are not "the latest day".
        days = dau.dropna(subset=["activity_date"]).sort_values("activity_date")
        latest = int(days.active_players.iloc[-1]) if not days.empty else 0
        st.metric("Active players (latest day)", f"{latest:,}")
    with m3, st.container(key="metric_revenue"):
        net = store.groupby("currency").net_amount.sum() if not store.empty else pd.Series()
        # Amounts of different currencies never add up: show USD, else the biggest one.
        main = "USD" if "USD" in net.index else (net.idxmax() if not net.empty else "-")
        st.metric(f"Net revenue ({main})", f"{float(net.get(main, 0)):,.2f}")
    with m4, st.container(key="metric_dq_pass"):
        mean = float(dq[dq_col].mean()) if not dq.empty else 0.0
        st.metric("Data quality pass rate", f"{mean:.1f}%")

    left, right = st.columns(2)
    with left:
        rooms = ask(conn, "rooms/top_rooms_by_players").df
        rooms["room"] = rooms.room_id.astype(str) + " · " + rooms.room_name.astype(str)
        chart("chart_top_rooms", "Top 5 rooms by players", rooms, "room",
              "unique_players", source="rooms/top_rooms_by_players")  # fmt: skip
        players = ask(conn, "leaderboards/top_players").df
        chart("chart_top_players", "Leaderboard: top 10 players", players.astype({"user_id": str}),
              "user_id", "total_score", kind="barh", source="leaderboards/top_players")  # fmt: skip
        chart("chart_kd", "Best K/D (5-minute windows, all time)", kd_leaders(conn), "player",
              "kd_ratio", source="combat/kd_leaders")  # fmt: skip
    with right:
        teams = ask(conn, "leaderboards/top_teams").df
        chart("chart_top_teams", "Leaderboard: top 10 teams", teams.astype({"team_id": str}),
              "team_id", "team_score", kind="barh", source="leaderboards/top_teams")  # fmt: skip
        revenue = (
            store.assign(net_amount=store.net_amount.astype(float))
            .groupby(["item_type", "currency"], as_index=False)
            .net_amount.sum()
        )
        revenue["item"] = revenue.item_type + " (" + revenue.currency + ")"
        chart("chart_revenue", "Net revenue per item type", revenue, "item", "net_amount",
              source="economy/purchases_refunds_by_item_currency_platform")  # fmt: skip
        servers = ask(conn, "servers/server_health_per_region").df
        latency = servers.pivot_table(
            index="window_start", columns="region", values="avg_latency_ms"
        ).reset_index() if not servers.empty else servers  # fmt: skip
        regions = [c for c in latency.columns if c != "window_start"]
        chart("chart_server_health", "Server health: average latency (ms) per region", latency,
              "window_start", regions, kind="line",
              source="servers/server_health_per_region")  # fmt: skip

    chart("chart_data_quality", "Data quality pass rate per table (%)", dq, "checked_table",
          dq_col, kind="barh", source=dq_source)  # fmt: skip
    st.caption(
        f"Catalog `{LAKE.catalog}` on {LAKE.host}:{LAKE.port} as `{LAKE.user}` · refreshed "
        f"{dt.datetime.now():%H:%M:%S} · every {REFRESH_S:g} s"
    )


st.title("gamelake — live game analytics")
try:
    board()
except GamelakeError as exc:
    st.error(f"{exc}")
