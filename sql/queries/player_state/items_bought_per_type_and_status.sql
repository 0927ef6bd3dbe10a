-- Question: How many items of each type were bought, per purchase status? (seed 003)
with buys as (
    select
        status,
        item_name
    from silver.game_api
    where event_type in ('buy_sword', 'buy_spell')
),

final as (
    select
        status,
        item_name,
        count(*) as items
    from buys
    group by status, item_name
)

select * from final
order by status asc, items desc, item_name asc
