-- Question: Which 10 players have the highest cumulative score? (seed 004)
with totals as (
    select
        user_id,
        team_id,
        total_score
    from gold.user_score_totals
),

ranked as (
    select
        user_id,
        team_id,
        total_score,
        row_number() over (order by total_score desc, user_id asc) as player_rank
    from totals
),

final as (
    select * from ranked
    where player_rank <= 10
)

select * from final
order by player_rank
