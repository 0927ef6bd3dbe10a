-- Question: How many unique players have played (scored points) in the game rooms? (seed 000)
with activity as (
    select player_id from gold.player_activity_enriched
),

final as (
    select count(distinct player_id) as unique_players
    from activity
)

select * from final
