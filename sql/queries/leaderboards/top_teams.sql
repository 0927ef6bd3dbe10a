-- Question: Which 10 teams have the highest cumulative score? (seed 004)
with totals as (
    select
        team_id,
        user_id,
        total_score
    from gold.user_score_totals
),

per_team as (
    select
        team_id,
        sum(total_score) as team_score,
        -- The totals hold one row per user and team: a team's rows are its players.
        count(*) as players
    from totals
    group by team_id
),

ranked as (
    select
        team_id,
        team_score,
        players,
        row_number() over (order by team_score desc, team_id asc) as team_rank
    from per_team
),

final as (
    select * from ranked
    where team_rank <= 10
)

select * from final
order by team_rank
