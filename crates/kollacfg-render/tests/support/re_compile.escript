#!/usr/bin/env escript
%% Compiles every line of a file with Erlang's re (PCRE), as RabbitMQ compiles policy
%% patterns, and prints "<N> checked, <M> refused" followed by up to 20 refused lines.
main([File]) ->
    {ok, Bin} = file:read_file(File),
    Lines = binary:split(Bin, <<"\n">>, [global, trim]),
    Bad = [L || L <- Lines, element(1, re:compile(L)) =/= ok],
    io:format("~p checked, ~p refused~n", [length(Lines), length(Bad)]),
    [io:format("REFUSED ~s~n", [L]) || L <- lists:sublist(Bad, 20)].
