-- Question: How many rooms of the 3 most created room types are created each day? (seed 000)
with rooms as (
    select
        room_name,
        cast(created_at as date) as created_date
    from gold.room_stats
    where room_name is not null and created_at is not null
),

top_types as (
    select
        room_name,
        row_number() over (order by count(*) desc, room_name asc) as type_rank
    from rooms
    group by room_name
),

final as (
    select
        rooms.created_date,
        rooms.room_name as room_type,
        count(*) as rooms_created
    from rooms
    inner join top_types on rooms.room_name = top_types.room_name
    where top_types.type_rank <= 3
    group by rooms.created_date, rooms.room_name
)

select * from final
order by created_date, room_type
