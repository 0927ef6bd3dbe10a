-- Question: What is the average price (gold) paid for each type of item? (seed 003)
with approved as (
    select
        item_name,
        cost_gold
    from silver.game_api
    where status = 'approved_purchase'
),

final as (
    select
        item_name,
        count(*) as purchases,
        round(avg(cost_gold), 2) as avg_cost_gold
    from approved
    group by item_name
)

select * from final
order by item_name
