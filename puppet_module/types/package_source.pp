# @summary Where pip installs pymco from: a local path (a source checkout, a wheel
#   or an sdist) or an http(s) URL of a wheel or sdist.
type Pymco::Package_source = Variant[Stdlib::Absolutepath, Stdlib::HTTPUrl]
