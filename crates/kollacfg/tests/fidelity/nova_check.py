"""Read a nova.conf the way nova-compute does and print the values asked for, as JSON.

Usage: nova_check.py NOVA_CONF GROUP.OPTION...

Loads NOVA_CONF with Nova's own option definitions (nova.conf) plus the options that
libraries own and register themselves at run time (oslo.log for [DEFAULT] debug/log_dir,
oslo.messaging for transport_url and the RabbitMQ driver's [oslo_messaging_rabbit] options),
then reads each GROUP.OPTION through oslo.config, which converts and range-checks the value.

Prints one JSON object on stdout and exits 0:
  {"values": {"GROUP.OPTION": value, ...}, "sources": {"GROUP.OPTION": "user", ...}}
where a source is oslo.config's location of the value: "user" when it comes from the file,
"opt_default" when the file does not set it (so a default cannot pass for a rendered value). Or
{"error": {"type": ..., "option": ..., "message": ...}} and exits 1 when the file does not
parse, an option is unknown, or a value has the wrong type or is out of range.
"""

import json
import sys

import nova.conf
from oslo_log import log as oslo_log
from oslo_messaging import opts as oslo_messaging_opts


def fail(kind, option, message):
    print(json.dumps({"error": {"type": kind, "option": option, "message": message}}))
    sys.exit(1)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    path, wanted = argv[0], argv[1:]

    conf = nova.conf.CONF
    oslo_log.register_options(conf)
    # oslo.messaging registers these when nova-compute creates its transport: [DEFAULT]
    # transport_url and friends, [oslo_messaging_rabbit] (the RabbitMQ driver's options),
    # [oslo_messaging_notifications], ...
    for group, opts in oslo_messaging_opts.list_opts():
        conf.register_opts(opts, group=None if group == "DEFAULT" else group)

    try:
        conf([], project="nova", default_config_files=[path], default_config_dirs=[])
    except Exception as exc:  # a file that does not parse
        fail(type(exc).__name__, None, str(exc))

    values, sources = {}, {}
    for name in wanted:
        group, _, option = name.rpartition(".")
        group = None if group in ("", "DEFAULT") else group
        try:
            values[name] = (conf[group] if group else conf)[option]
            location = conf.get_location(option, group)
            # oslo.config records no location for an option whose default is None.
            sources[name] = location.location.name if location else "opt_default"
        except Exception as exc:
            fail(type(exc).__name__, name, str(exc))
    print(json.dumps({"values": values, "sources": sources}, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
