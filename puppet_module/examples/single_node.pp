# One node running everything: RabbitMQ with STOMP, pymcod, and the mco client.
# The settings are Hiera data (single_node/data/common.yaml); change the
# passwords and the psk there first.  From the checkout, as root:
#
#   ln -sfn "$PWD/puppet_module" /etc/puppet/code/modules/pymco
#   puppet apply --hiera_config puppet_module/examples/single_node/hiera.yaml \
#     puppet_module/examples/single_node.pp
#
# The broker comes first so the daemon finds its exchanges when it starts.
include pymco::middleware::rabbitmq
include pymco

Class['pymco::middleware::rabbitmq'] -> Class['pymco']
