# @summary Where pip installs pymco from: a local path (checkout, wheel, sdist) or a URL of a wheel or sdist.
type Pymco::Package_source = Variant[Stdlib::Absolutepath, Stdlib::HTTPUrl]
