# @summary How pymcod is run as a service: a systemd unit, or an LSB init script
#   (hosts without a running systemd, such as containers).
type Pymco::Service_manager = Enum['systemd', 'init']
