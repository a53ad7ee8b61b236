# @summary Where pymco comes from: a .deb on the node (install_method package), or what pip installs (a path or URL).
type Pymco::Package_source = Variant[Stdlib::Absolutepath, Stdlib::HTTPUrl]
