# One node running everything on ActiveMQ: the broker (Debian's activemq
# package, instance `main`), pymcod and the mco client with the `activemq`
# connector.  The settings are Hiera data (activemq_broker/data/common.yaml);
# change the password and the psk there first.  From the checkout, as root:
#
#   ln -sfn "$PWD/puppet_module" /etc/puppet/code/modules/pymco
#   puppet apply --hiera_config puppet_module/examples/activemq_broker/hiera.yaml \
#     puppet_module/examples/activemq_broker.pp
#
# The broker comes first so the daemon finds STOMP when it starts.
include pymco::middleware::activemq
include pymco

Class['pymco::middleware::activemq'] -> Class['pymco']
