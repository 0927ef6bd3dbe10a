-- Question: Which guild or team is most popular (joins per org)? (seed 003)
with joins as (
    select
        event_type,
        org
    from silver.game_api
    where status = 'joined'
),

final as (
    select
        event_type,
        org,
        count(*) as joins
    from joins
    group by event_type, org
)

select * from final
order by joins desc, event_type asc, org asc
