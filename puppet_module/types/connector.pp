# @summary The middleware connectors pymco ships.
type Pymco::Connector = Enum['rabbitmq', 'activemq', 'nats']
