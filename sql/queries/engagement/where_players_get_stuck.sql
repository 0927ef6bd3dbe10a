-- Question: At which levels do players get stuck: sessions whose last action is at the level
-- without completing it? (seed 002)
with funnel as (
    select
        level_id,
        sessions,
        stuck_sessions
    from gold.level_funnel
),

per_level as (
    select
        level_id,
        sum(sessions) as sessions,
        sum(stuck_sessions) as stuck_sessions
    from funnel
    group by level_id
),

final as (
    select
        level_id,
        sessions,
        stuck_sessions,
        round(100 * cast(stuck_sessions as double) / sessions, 2) as stuck_pct
    from per_level
)

select * from final
order by stuck_sessions desc, level_id asc
