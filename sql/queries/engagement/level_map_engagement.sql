-- Question: How engaged are players with each level and map: sessions, players, actions and
-- completions? (seed 002)
with funnel as (
    select
        level_id,
        map_id,
        sessions,
        players,
        events,
        completed_sessions
    from gold.level_funnel
),

final as (
    select
        level_id,
        map_id,
        sessions,
        players,
        events,
        completed_sessions,
        round(100 * cast(completed_sessions as double) / sessions, 2) as completion_pct
    from funnel
)

select * from final
order by level_id, map_id
