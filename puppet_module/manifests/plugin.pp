# @summary An extra agent and its DDL in pymco's site libdir (and a daemon restart to load it).
#
# A Python agent is `<libdir>/agents/<name>.py`; an agent written in any
# language is an executable `<libdir>/agents/<name>/<name>` whose DDL says
# `provider: external` (see docs/agents.md).  The DDL goes to
# `<libdir>/ddl/<name>.yaml` (or `.json`), where the daemon and mco find it.
#
# @example An agent shipped in a profile module's files/
#   pymco::plugin { 'nodeinfo':
#     agent_source => 'puppet:///modules/profile/pymco/nodeinfo.py',
#     ddl_source   => 'puppet:///modules/profile/pymco/nodeinfo.yaml',
#   }
#
# @param ensure
#   Whether the plugin is deployed (it is removed too when `pymco::ensure` is absent).
# @param implementation
#   `python` (an Agent subclass) or `external` (a program).
# @param agent_content
#   The agent's code (or use `agent_source`).
# @param agent_source
#   A `source` for the agent's code (`puppet:///...` or a local path).
# @param ddl_content
#   The DDL's text (or use `ddl_source`).
# @param ddl_source
#   A `source` for the DDL.
# @param ddl_format
#   The DDL's format, which is its file extension.
define pymco::plugin (
  Enum['present', 'absent'] $ensure = 'present',
  Enum['python', 'external'] $implementation = 'python',
  Optional[String[1]] $agent_content = undef,
  Optional[String[1]] $agent_source = undef,
  Optional[String[1]] $ddl_content = undef,
  Optional[String[1]] $ddl_source = undef,
  Enum['yaml', 'json'] $ddl_format = 'yaml',
) {
  include pymco

  unless $title =~ /\A[a-z][a-z0-9_]*\z/ {
    fail("pymco::plugin[${title}]: a plugin name is lower-case letters, digits and '_', starting with a letter")
  }
  $present = $ensure == 'present' and $pymco::ensure == 'present'
  if $present {
    if ($agent_content =~ Undef) == ($agent_source =~ Undef) {
      fail("pymco::plugin[${title}]: give exactly one of agent_content and agent_source")
    }
    if ($ddl_content =~ Undef) == ($ddl_source =~ Undef) {
      fail("pymco::plugin[${title}]: give exactly one of ddl_content and ddl_source")
    }
  }

  # With pymco absent the whole libdir goes, these files with it.
  if $pymco::ensure == 'present' {
    $agents = "${pymco::libdir}/agents"
    $agent_file = $implementation ? {
      'python' => "${agents}/${title}.py",
      default  => "${agents}/${title}/${title}",
    }
    $agent_mode = $implementation ? {
      'python' => '0644',
      default  => '0755',
    }
    $dir_ensure = $present ? {
      true    => 'directory',
      default => 'absent',
    }
    $files = $present ? {
      true    => {
        $agent_file                               => {
          'ensure'  => 'file',
          'content' => $agent_content,
          'source'  => $agent_source,
          'mode'    => $agent_mode,
        },
        "${pymco::libdir}/ddl/${title}.${ddl_format}" => {
          'ensure'  => 'file',
          'content' => $ddl_content,
          'source'  => $ddl_source,
          'mode'    => '0644',
        },
      },
      default => {
        $agent_file                               => { 'ensure' => 'absent' },
        "${pymco::libdir}/ddl/${title}.${ddl_format}" => { 'ensure' => 'absent' },
      },
    }
    if $implementation == 'external' {
      file { "${agents}/${title}":
        ensure => $dir_ensure,
        force  => true,
        mode   => '0755',
      }
    }
    $files.each |String $path, Hash $attributes| {
      file { $path:
        owner  => 'root',
        group  => 'root',
        backup => false,
        *      => $attributes,
      }
      if $present {
        Class['pymco::install'] -> File[$path]
        if $pymco::server {
          File[$path] ~> Class['pymco::server::service']
        }
      }
    }
  }
}
