"""``mserve --schedules``: the topology's ``schedules:`` fired by one scheduler per fleet."""
