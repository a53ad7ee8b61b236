# A broker node and many pymcod nodes, with one admin node running mco.
# The settings are Hiera data (broker_and_nodes/data/): common.yaml is shared
# by every node, nodes/<fqdn>.yaml adds per-node keys.  With a Puppet server,
# this is the site manifest and the data goes into the environment's Hiera;
# masterless, apply it on each node:
#
#   puppet apply --hiera_config puppet_module/examples/broker_and_nodes/hiera.yaml \
#     puppet_module/examples/broker_and_nodes.pp

# The broker: RabbitMQ with STOMP on every interface (and TLS on 61614).
node 'mq1.example.com' {
  include pymco::middleware::rabbitmq
  # the broker host answers mco too
  include pymco
}

# Operators run mco here (pymco::client is true in its node data).
node 'admin1.example.com' {
  include pymco
}

# Every other node: pymcod in the main collective and its own data-centre collective.
node default {
  include pymco
}
