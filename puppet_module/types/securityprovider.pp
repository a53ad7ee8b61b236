# @summary The security providers pymco ships.
type Pymco::Securityprovider = Enum['psk', 'ssl', 'x509']
