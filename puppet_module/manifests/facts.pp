# @summary Keeps pymcod's facts file fresh from Facter, on a schedule.
#
# `pymcod facts refresh` runs `facter --yaml`, checks that the output parses as
# facts (Facter 4 may exit 1 in containers while its output is complete, and
# its errors never reach the file), and replaces the file by rename, so the
# daemon, which re-reads the file when it changes, never sees half of it.
# Puppet runs it once to seed the file before the daemon starts; afterwards a
# systemd timer or a cron.d entry runs it every `interval` minutes.  The same
# class writes Puppet's classes file path into server.cfg (`classesfile`) so
# `-C` class filters see the classes of the last Puppet run.
#
# @param facts_file
#   The facts file (unset: `<pymco::confdir>/facts.yaml`); server.cfg gets it as `plugin.yaml`.
# @param classesfile
#   Puppet's classes file (module data: Debian's `/var/cache/puppet/state/classes.txt`,
#   the AIO path elsewhere); server.cfg gets it as `classesfile`.
# @param scheduler
#   What re-runs the refresh: a `systemd` timer, a `cron` entry in `cron_dir`
#   (needs a cron daemon), or `none`.  Unset: `systemd` when it is the running init, else `cron`.
# @param interval
#   Minutes between refreshes: 1-59, or whole hours (60, 120, ... 1440) for cron.
# @param puppet_facts
#   Whether to include Puppet's custom facts (`facter -p`, slower).
# @param facter
#   The facter command.
# @param job_name
#   The name of the timer/service units or of the cron.d file.
# @param cron_dir
#   Where the cron entry goes.
class pymco::facts (
  Optional[Stdlib::Absolutepath] $facts_file = undef,
  Stdlib::Absolutepath $classesfile = '/opt/puppetlabs/puppet/cache/state/classes.txt',
  Optional[Enum['systemd', 'cron', 'none']] $scheduler = undef,
  Integer[1, 1440] $interval = 15,
  Boolean $puppet_facts = false,
  String[1] $facter = 'facter',
  Pattern[/\A[A-Za-z0-9_-]+\z/] $job_name = 'pymco-facts',
  Stdlib::Absolutepath $cron_dir = '/etc/cron.d',
) {
  include pymco

  $facts_path = pick($facts_file, "${pymco::confdir}/facts.yaml")
  $schedule_with = pick($scheduler, $facts['service_provider'] ? {
      'systemd' => 'systemd',
      default   => 'cron',
  })
  if $schedule_with == 'cron' and $interval >= 60 and $interval % 60 != 0 {
    fail("pymco::facts: cron cannot run every ${interval} minutes: use 1-59 or a whole number of hours")
  }
  $command = shell_join(["${pymco::venv}/bin/pymcod", 'facts', 'refresh', '--output', $facts_path, '--facter', $facter]
  + ($puppet_facts ? { true => ['--puppet'], default => [] }))

  $present = $pymco::ensure == 'present'
  if $present {
    exec { 'pymco-facts-seed':
      command   => $command,
      creates   => $facts_path,
      path      => ['/usr/local/bin', '/usr/bin', '/bin', '/opt/puppetlabs/bin'],
      logoutput => 'on_failure',
    }
  } elsif !pymco::inside($facts_path, $pymco::confdir) {
    file { $facts_path:
      ensure => absent,
      backup => false,
    }
  }

  $unit_dir = '/etc/systemd/system'
  $file_ensure = $present ? { true => 'file', default => 'absent' }
  case $schedule_with {
    'systemd': {
      exec { 'pymco-facts-daemon-reload':
        command     => 'systemctl daemon-reload',
        path        => ['/usr/bin', '/bin'],
        refreshonly => true,
      }
      file { "${unit_dir}/${job_name}.service":
        ensure  => $file_ensure,
        content => epp('pymco/facts.service.epp', { 'command' => $command }),
        mode    => '0644',
        notify  => Exec['pymco-facts-daemon-reload'],
      }
      file { "${unit_dir}/${job_name}.timer":
        ensure  => $file_ensure,
        content => epp('pymco/facts.timer.epp', { 'interval' => $interval, 'job_name' => $job_name }),
        mode    => '0644',
        notify  => Exec['pymco-facts-daemon-reload'],
      }
      service { "${job_name}.timer":
        ensure   => $present,
        enable   => $present,
        provider => 'systemd',
      }
      if $present {
        Exec['pymco-facts-daemon-reload'] -> Service["${job_name}.timer"]
      } else {
        Service["${job_name}.timer"] -> File["${unit_dir}/${job_name}.timer"]
      }
    }
    'cron': {
      $when = $interval ? {
        Integer[1, 59] => "*/${interval} * * * *",
        1440           => '0 0 * * *',
        default        => "0 */${$interval / 60} * * *",
      }
      file { "${cron_dir}/${job_name}":
        ensure  => $file_ensure,
        owner   => 'root',
        group   => 'root',
        mode    => '0644',
        content => epp('pymco/facts.cron.epp', { 'when' => $when, 'command' => $command }),
      }
    }
    default: {}
  }
}
