-- Question: Which 3 players created the most rooms, and of which room types? (seed 000)
with rooms as (
    select
        room_id,
        room_name,
        creator_player_id
    from gold.room_stats
    where creator_player_id is not null and room_name is not null
),

creators as (
    select
        creator_player_id,
        count(*) as rooms_created,
        row_number() over (order by count(*) desc, creator_player_id asc) as creator_rank
    from rooms
    group by creator_player_id
),

top_creators as (
    select * from creators
    where creator_rank <= 3
),

final as (
    select
        top_creators.creator_rank,
        top_creators.creator_player_id,
        top_creators.rooms_created,
        rooms.room_name as room_type,
        count(*) as rooms_of_type
    from top_creators
    inner join rooms on top_creators.creator_player_id = rooms.creator_player_id
    group by
        top_creators.creator_rank,
        top_creators.creator_player_id,
        top_creators.rooms_created,
        rooms.room_name
)

select * from final
order by creator_rank, room_type
