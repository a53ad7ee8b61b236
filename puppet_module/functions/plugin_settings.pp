# @summary Flattens per-plugin hashes into `plugin.<plugin>.<key>` settings.
#
# `{ 'puppet' => { 'command' => 'puppet apply site.pp' } }` becomes
# `{ 'plugin.puppet.command' => 'puppet apply site.pp' }`, so Hiera can hold one
# readable hash per plugin and deep-merge it across levels.
#
# @param plugins The per-plugin hashes.
# @return [Pymco::Settings] The flat settings.
function pymco::plugin_settings(Pymco::Plugin_settings $plugins) >> Pymco::Settings {
  $plugins.reduce({}) |Hash $memo, Array $plugin| {
    $memo + $plugin[1].reduce({}) |Hash $inner, Array $setting| {
      $inner + { "plugin.${plugin[0]}.${setting[0]}" => $setting[1] }
    }
  }
}
