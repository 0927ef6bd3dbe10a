-- Question: How long are user sessions (scores no more than 5 minutes apart), and what is
-- their average length, per hour the sessions start in? (classic)
with sessions as (
    select
        session_start,
        length_s,
        events
    from gold.user_sessions
),

final as (
    select
        date_trunc('hour', session_start) as hour_start,
        count(*) as sessions,
        round(avg(length_s), 1) as avg_length_s,
        max(length_s) as max_length_s,
        round(avg(events), 2) as avg_events
    from sessions
    group by date_trunc('hour', session_start)
)

select * from final
order by hour_start
