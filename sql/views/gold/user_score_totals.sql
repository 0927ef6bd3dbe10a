-- View: each user's running total score (the classic running leaderboard's input), from the
-- 10-second windows the streaming gold stage keeps current.
with windows as (
    select
        user_id,
        team_id,
        score,
        events,
        window_end
    from gold.user_score_10s
),

final as (
    select
        user_id,
        team_id,
        sum(score) as total_score,
        sum(events) as events,
        max(window_end) as scored_until
    from windows
    group by user_id, team_id
)

select * from final
