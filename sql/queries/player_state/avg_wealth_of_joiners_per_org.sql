-- Question: What is the average wealth of players joining each organization? (seed 003)
with joins as (
    select
        org,
        player_wealth
    from silver.game_api
    where status = 'joined'
),

final as (
    select
        org,
        count(*) as joins,
        round(avg(player_wealth), 2) as avg_wealth
    from joins
    group by org
)

select * from final
order by org
