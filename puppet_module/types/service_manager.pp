# @summary How pymcod runs as a service: a systemd unit, or an LSB init script (no running systemd).
type Pymco::Service_manager = Enum['systemd', 'init']
