# @summary Whether `path` lies inside folder `dir`.
#
# On removal the module deletes its folders recursively; files inside them
# are then not declared on their own, since Puppet makes a file depend on its
# folder, which would cycle with "stop the daemon, then remove the folders".
#
# @param path A file.
# @param dir A folder.
# @return [Boolean] True when `path` is below `dir`.
function pymco::inside(Stdlib::Absolutepath $path, Stdlib::Absolutepath $dir) >> Boolean {
  $prefix = "${dir.regsubst('/+\z', '')}/"
  $path.length > $prefix.length and $path[0, $prefix.length] == $prefix
}
