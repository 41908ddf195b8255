#!/usr/bin/env escript
%% Compiles every line of a file with Erlang's re (PCRE), as RabbitMQ compiles policy
%% patterns (re:compile/1, no options), and prints one line per pattern: "ok" or "err", a tab,
%% the pattern.
main([File]) ->
    {ok, Bin} = file:read_file(File),
    Lines = binary:split(Bin, <<"\n">>, [global, trim]),
    [io:format("~s\t~s~n", [verdict(L), L]) || L <- Lines].

verdict(L) ->
    case re:compile(L) of
        {ok, _} -> "ok";
        {error, _} -> "err"
    end.
