-- Question: Who is on the running leaderboard right now (the top 20 ranks by total score,
-- ties sharing a rank)? (classic)
with totals as (
    select
        user_id,
        team_id,
        total_score,
        scored_until
    from gold.user_score_totals
),

ranked as (
    select
        user_id,
        team_id,
        total_score,
        scored_until,
        rank() over (order by total_score desc) as leaderboard_rank
    from totals
),

final as (
    select * from ranked
    where leaderboard_rank <= 20
)

select * from final
order by leaderboard_rank, user_id
