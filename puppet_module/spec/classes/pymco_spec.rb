# frozen_string_literal: true

require 'spec_helper'

describe 'pymco' do
  let(:params) { {} }
  let(:server_cfg) { '/etc/pymco/server.cfg' }

  context 'with the defaults on Debian without systemd' do
    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_class('pymco::install').that_comes_before('Class[pymco::server]') }
    it { is_expected.to contain_class('pymco::server::config').that_notifies('Class[pymco::server::service]') }
    it { is_expected.to contain_class('pymco::install').that_notifies('Class[pymco::server::service]') }
    it { is_expected.to contain_class('pymco::facts').that_comes_before('Class[pymco::server::service]') }
    it { is_expected.not_to contain_class('pymco::client') }

    it 'installs the pymco Debian package from the apt repositories, keeping Puppet\'s config files' do
      is_expected.to contain_package('pymco').with(ensure: 'installed', provider: 'apt', source: nil,
                                                   configfiles: 'keep')
      is_expected.to contain_file('/etc/pymco').that_requires('Package[pymco]')
      is_expected.not_to contain_exec('pymco-install')
      is_expected.not_to contain_exec('pymco-virtualenv')
    end

    it 'writes server.cfg sorted, mode 0600, with the shared and the server settings' do
      is_expected.to contain_file(server_cfg).with(owner: 'root', group: 'root', mode: '0600')
      lines = setting_lines(catalogue, server_cfg)
      expect(lines).to eq(lines.sort)
      expect(lines).to eq([
                            'classesfile = /var/cache/puppet/state/classes.txt',
                            'collectives = mcollective',
                            'connector = rabbitmq',
                            'factsource = yaml',
                            'identity = node1.example.com',
                            'libdir = /usr/local/share/pymco',
                            'logfile = /var/log/pymco/pymcod.log',
                            'logger_type = file',
                            'loglevel = info',
                            'main_collective = mcollective',
                            'plugin.psk = sekrit-psk',
                            'plugin.rabbitmq.pool.1.host = localhost',
                            'plugin.rabbitmq.pool.1.password = broker-pw',
                            'plugin.rabbitmq.pool.1.port = 61613',
                            'plugin.rabbitmq.pool.1.user = mcollective',
                            'plugin.rabbitmq.pool.size = 1',
                            'plugin.rabbitmq.randomize = false',
                            'plugin.rabbitmq.vhost = /mcollective',
                            'plugin.yaml = /etc/pymco/facts.yaml',
                            'securityprovider = psk',
                          ])
    end

    it 'keeps the secrets out of reports (Sensitive content)' do
      expect(catalogue.resource('File', server_cfg).sensitive_parameters).to include(:content)
    end

    it 'runs pymcod from an LSB init script with the debian provider' do
      is_expected.to contain_file('/etc/init.d/pymcod').with_mode('0755')
        .that_notifies('Service[pymcod]')
      script = content_of(catalogue, '/etc/init.d/pymcod')
      expect(script).to match(%r{^DAEMON=/opt/pymco/bin/pymcod$})
      expect(script).to match(%r{^CONFIG=/etc/pymco/server\.cfg$})
      expect(script).to match(%r{^PIDFILE=/run/pymcod\.pid$})
      expect(script).to include('# Provides:          pymcod')
      is_expected.to contain_service('pymcod').with(
        ensure: 'running', enable: true, provider: 'debian', status: '/etc/init.d/pymcod status',
      )
      is_expected.not_to contain_file('/etc/systemd/system/pymcod.service')
    end

    it 'seeds the facts file before the daemon and refreshes it from cron' do
      is_expected.to contain_exec('pymco-facts-seed')
        .with_command('/opt/pymco/bin/pymcod facts refresh --output /etc/pymco/facts.yaml --facter /usr/bin/facter')
        .with_creates('/etc/pymco/facts.yaml')
      expect(content_of(catalogue, '/etc/cron.d/pymco-facts')).to match(
        %r{^\*/15 \* \* \* \* root /opt/pymco/bin/pymcod facts refresh --output /etc/pymco/facts\.yaml --facter /usr/bin/facter >/dev/null$},
      )
    end

    it 'makes the config and plugin folders' do
      ['/etc/pymco', '/usr/local/share/pymco', '/usr/local/share/pymco/agents', '/usr/local/share/pymco/ddl'].each do |dir|
        is_expected.to contain_file(dir).with_ensure('directory')
      end
      is_expected.to contain_file('/var/log/pymco').with_ensure('directory').with_mode('0750')
    end
  end

  context 'where systemd runs' do
    let(:facts) { DEBIAN_FACTS.merge('service_provider' => 'systemd') }

    it { is_expected.to compile.with_all_deps }

    it 'installs a unit and a facts timer instead of init script and cron' do
      unit = content_of(catalogue, '/etc/systemd/system/pymcod.service')
      expect(unit).to include('ExecStart=/opt/pymco/bin/pymcod --config /etc/pymco/server.cfg --no-daemonize')
      expect(unit).to include('KillMode=process')
      is_expected.to contain_file('/etc/systemd/system/pymcod.service')
        .that_notifies(['Exec[pymco-pymcod-daemon-reload]', 'Service[pymcod]'])
      is_expected.to contain_service('pymcod').with_provider('systemd')
        .that_requires('Exec[pymco-pymcod-daemon-reload]')
      is_expected.not_to contain_file('/etc/init.d/pymcod')
      expect(content_of(catalogue, '/etc/systemd/system/pymco-facts.timer')).to include('OnUnitActiveSec=15min')
      expect(content_of(catalogue, '/etc/systemd/system/pymco-facts.service'))
        .to include('ExecStart=/opt/pymco/bin/pymcod facts refresh --output /etc/pymco/facts.yaml')
      is_expected.to contain_service('pymco-facts.timer').with(ensure: true, enable: true)
      is_expected.not_to contain_file('/etc/cron.d/pymco-facts')
    end
  end

  context 'on Red Hat' do
    let(:facts) { REDHAT_FACTS }
    let(:params) { { 'package_source' => '/srv/wheelhouse/pymco-0.1.0-py3-none-any.whl' } }

    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_package('python3').that_comes_before('Exec[pymco-virtualenv]') }
    it { is_expected.to contain_exec('pymco-install') }
    it { is_expected.to contain_exec('pymco-facts-seed').with_command(%r{--facter /opt/puppetlabs/bin/facter$}) }
    it { is_expected.to contain_file(server_cfg).with_content(sensitive(%r{^classesfile = /opt/puppetlabs/puppet/cache/state/classes\.txt$})) }
  end

  context 'with a broker pool, sub-collectives and TLS' do
    let(:params) do
      {
        'collectives' => ['mcollective', 'dc_east'],
        'main_collective' => 'dc_east',
        'brokers' => ['mq1.example.com', { 'host' => 'mq2.example.com', 'port' => 61614, 'user' => 'other',
                                           'password' => 'pw2', 'ssl_fallback' => true }],
        'broker_ssl' => true,
        'broker_ssl_ca' => '/etc/ssl/ca.pem',
        'broker_randomize' => true,
      }
    end

    it { is_expected.to compile.with_all_deps }

    it 'numbers the pool from 1 with per-host overrides' do
      lines = setting_lines(catalogue, server_cfg)
      expect(lines).to include(
        'collectives = mcollective,dc_east',
        'main_collective = dc_east',
        'plugin.rabbitmq.pool.size = 2',
        'plugin.rabbitmq.randomize = true',
        'plugin.rabbitmq.pool.1.host = mq1.example.com',
        'plugin.rabbitmq.pool.1.port = 61613',
        'plugin.rabbitmq.pool.1.password = broker-pw',
        'plugin.rabbitmq.pool.1.ssl = true',
        'plugin.rabbitmq.pool.1.ssl.ca = /etc/ssl/ca.pem',
        'plugin.rabbitmq.pool.2.host = mq2.example.com',
        'plugin.rabbitmq.pool.2.port = 61614',
        'plugin.rabbitmq.pool.2.user = other',
        'plugin.rabbitmq.pool.2.password = pw2',
        'plugin.rabbitmq.pool.2.ssl.fallback = true',
      )
      expect(lines.grep(%r{ssl\.(cert|key)})).to be_empty
      expect(lines.grep(%r{pool\.1\.ssl\.fallback})).to be_empty
    end
  end

  context 'from a .deb on the node, pinned' do
    let(:params) { { 'package_source' => '/srv/pymco_0.1.0-1_amd64.deb', 'package_version' => '0.1.0-1' } }

    it { is_expected.to contain_package('pymco').with(ensure: '0.1.0-1', source: '/srv/pymco_0.1.0-1_amd64.deb') }
  end

  context 'with the client role, from a local checkout with pip' do
    let(:params) do
      { 'client' => true, 'install_method' => 'pip', 'package_source' => '/srv/pymco', 'package_version' => '0.1.0',
        'venv' => '/srv/venv', 'pip_options' => ['--no-cache-dir'] }
    end

    it 'makes the virtualenv, then pip installs, skipping pip when it is there' do
      is_expected.to contain_package('python3-venv').that_comes_before('Exec[pymco-virtualenv]')
      is_expected.to contain_exec('pymco-virtualenv')
        .with_command('/usr/bin/python3 -m venv /srv/venv').with_creates('/srv/venv/bin/pip')
      is_expected.to contain_exec('pymco-install')
        .with_unless(%r{\A/srv/venv/bin/python -c .*direct_url\.json})
        .that_requires('Exec[pymco-virtualenv]')
    end

    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_class('pymco::install').that_comes_before('Class[pymco::client]') }

    it 'installs from the path and checks source and version' do
      is_expected.to contain_exec('pymco-install')
        .with_command('/srv/venv/bin/pip install --quiet --disable-pip-version-check --no-cache-dir /srv/pymco')
      check = catalogue.resource('Exec', 'pymco-install')[:unless]
      expect(check).to include('file:///srv/pymco').and include('0.1.0')
    end

    it 'writes client.cfg with the shared settings and console logging' do
      is_expected.to contain_file('/etc/pymco/client.cfg').with(owner: 'root', group: 'root', mode: '0640')
      lines = setting_lines(catalogue, '/etc/pymco/client.cfg')
      expect(lines).to eq(lines.sort)
      expect(lines).to include('logger_type = console', 'loglevel = warn', 'plugin.psk = sekrit-psk',
                               'plugin.rabbitmq.pool.1.password = broker-pw', 'collectives = mcollective')
      expect(lines.grep(%r{^(identity|logfile|plugin\.yaml|classesfile) })).to be_empty
    end
  end

  context 'with per-user client files' do
    let(:pre_condition) do
      <<~PP
        class { 'pymco::client':
          group => 'mcoadmins',
          users => {
            'alice' => { 'settings' => { 'loglevel' => 'debug' } },
            'root'  => {},
          },
        }
      PP
    end

    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_file('/etc/pymco/client.cfg').with_group('mcoadmins') }

    it 'writes ~/.pymco owned by each user, with their own settings on top' do
      is_expected.to contain_file('/home/alice/.pymco').with(owner: 'alice', group: 'alice', mode: '0600')
      expect(setting_lines(catalogue, '/home/alice/.pymco')).to include('loglevel = debug', 'plugin.psk = sekrit-psk')
      is_expected.to contain_file('/root/.pymco').with_owner('root')
      expect(setting_lines(catalogue, '/root/.pymco')).to include('loglevel = warn')
    end
  end

  context 'with server settings from hashes' do
    let(:pre_condition) do
      <<~PP
        class { 'pymco::server':
          identity        => 'web1',
          log_level       => 'debug',
          plugin_settings => { 'puppet' => { 'command' => 'puppet apply /srv/site.pp', 'splay' => false } },
          logfile         => '/srv/log/pymcod.log',
          settings        => { 'registerinterval' => 300, 'loglevel' => 'warn', 'classesfile' => undef },
          service_name    => 'pymcod-test',
          pidfile         => '/srv/run/pymcod.pid',
        }
      PP
    end

    it { is_expected.to compile.with_all_deps }

    it 'flattens plugin hashes, lets settings override and drop defaults' do
      lines = setting_lines(catalogue, server_cfg)
      expect(lines).to include('identity = web1', 'loglevel = warn', 'plugin.puppet.command = puppet apply /srv/site.pp',
                               'plugin.puppet.splay = false', 'registerinterval = 300', 'logfile = /srv/log/pymcod.log')
      expect(lines.grep(%r{^classesfile})).to be_empty
      is_expected.to contain_file('/srv/log').with_ensure('directory')
      is_expected.to contain_service('pymcod-test')
      expect(content_of(catalogue, '/etc/init.d/pymcod-test')).to match(%r{^PIDFILE=/srv/run/pymcod\.pid$})
    end
  end

  context 'with ensure => absent' do
    let(:params) { { 'ensure' => 'absent', 'client' => true } }

    it { is_expected.to compile.with_all_deps }

    it 'stops the daemon before removing the script, the configs and the package' do
      is_expected.to contain_service('pymcod').with_ensure('stopped')
        .that_comes_before('Exec[pymco-pymcod-remove-rc-links]')
      is_expected.to contain_file('/etc/init.d/pymcod').with_ensure('absent')
        .that_requires('Exec[pymco-pymcod-remove-rc-links]')
      is_expected.to contain_file('/etc/cron.d/pymco-facts').with_ensure('absent')
      is_expected.to contain_package('pymco').with_ensure('purged')
      ['/etc/pymco', '/usr/local/share/pymco', '/var/lib/pymco'].each do |dir|
        is_expected.to contain_file(dir).with(ensure: 'absent', force: true)
      end
      is_expected.to contain_class('pymco::server').that_comes_before('Class[pymco::install]')
      is_expected.to contain_class('pymco::client').that_comes_before('Class[pymco::install]')
      is_expected.not_to contain_exec('pymco-install')
      is_expected.not_to contain_exec('pymco-facts-seed')
      # inside /etc/pymco, so removed with it rather than on their own
      is_expected.not_to contain_file(server_cfg)
      is_expected.not_to contain_file('/etc/pymco/client.cfg')
    end
  end

  context 'with stopped' do
    let(:pre_condition) { "class { 'pymco::server': service_ensure => 'stopped', service_enable => false }" }

    it { is_expected.to contain_service('pymcod').with(ensure: 'stopped', enable: false) }
  end

  context 'on a node with a Puppet certificate, key and CA' do
    let(:hiera_config) { EMPTY_HIERA }
    let(:params) { { 'broker_password' => 'x', 'client' => true } }
    let(:facts) do
      DEBIAN_FACTS.merge('pymco_puppet_ssl' => {
                           'ssldir' => '/var/lib/puppet/ssl', 'certname' => 'web1.puppet.example.com',
                           'ca' => '/var/lib/puppet/ssl/certs/ca.pem',
                           'cert' => '/var/lib/puppet/ssl/certs/web1.puppet.example.com.pem',
                           'private_key' => '/var/lib/puppet/ssl/private_keys/web1.puppet.example.com.pem',
                           'ca_server' => 'puppet.example.com:8140'
                         })
    end

    it 'signs with them: x509 by default, no psk needed' do
      is_expected.to compile.with_all_deps
      lines = setting_lines(catalogue, '/etc/pymco/server.cfg')
      expect(lines).to include('securityprovider = x509', 'plugin.x509.ssldir = /var/lib/puppet/ssl',
                               'plugin.x509.certname = web1.puppet.example.com',
                               'plugin.x509.ca_server = puppet.example.com:8140',
                               # the certname, not the FQDN fact: replies are accepted from the cert named like the sender
                               'identity = web1.puppet.example.com',
                               'plugin.x509.replay_cache = /var/lib/pymco/x509_replay.journal')
      expect(lines.grep(%r{^plugin\.psk})).to be_empty
      is_expected.to contain_file('/var/lib/pymco').with(ensure: 'directory', mode: '0700')
      expect(setting_lines(catalogue, '/etc/pymco/client.cfg').grep(%r{replay_cache})).to be_empty
    end

    context 'unless psk is chosen' do
      let(:params) { { 'broker_password' => 'x', 'securityprovider' => 'psk', 'psk' => 'k' } }

      it do
        lines = setting_lines(catalogue, '/etc/pymco/server.cfg')
        expect(lines).to include('securityprovider = psk', 'plugin.psk = k', 'identity = node1.example.com')
        expect(lines.grep(%r{^plugin\.x509})).to be_empty
        is_expected.to contain_file('/var/lib/pymco').with(ensure: 'directory')
      end
    end
  end

  describe 'rejects impossible or bad parameters' do
    context 'a package at a URL' do
      let(:params) { { 'package_source' => 'https://example.com/pymco_0.1.0-1_amd64.deb' } }

      it { is_expected.to compile.and_raise_error(%r{not from a URL}) }
    end

    context 'pip without a package_source' do
      let(:params) { { 'install_method' => 'pip' } }

      it { is_expected.to compile.and_raise_error(%r{pymco is not on PyPI}) }
    end

    context 'psk without a key' do
      let(:hiera_config) { EMPTY_HIERA }
      let(:params) { { 'broker_password' => 'x' } }

      it { is_expected.to compile.and_raise_error(%r{securityprovider psk needs a key}) }
    end

    context 'a broker without a password' do
      let(:hiera_config) { EMPTY_HIERA }
      let(:params) { { 'psk' => 'x', 'brokers' => ['mq1', { 'host' => 'mq2', 'password' => 'y' }] } }

      it { is_expected.to compile.and_raise_error(%r{broker mq1 has no password}) }
    end

    context 'a main collective that is not a collective' do
      let(:params) { { 'main_collective' => 'other' } }

      it { is_expected.to compile.and_raise_error(%r{main_collective 'other' is not one of the collectives}) }
    end

    context 'a client certificate without its key' do
      let(:params) { { 'broker_ssl_cert' => '/etc/ssl/c.pem' } }

      it { is_expected.to compile.and_raise_error(%r{broker_ssl_cert and broker_ssl_key go together}) }
    end

    context 'a collective name that cannot be an exchange name' do
      let(:params) { { 'collectives' => ['dc-east'] } }

      it { is_expected.to compile.and_raise_error(%r{collectives.*expects a match for Pymco::Collective}) }
    end

    context 'no collectives' do
      let(:params) { { 'collectives' => [] } }

      it { is_expected.to compile.and_raise_error(%r{collectives}) }
    end

    context 'a relative confdir' do
      let(:params) { { 'confdir' => 'etc/pymco' } }

      it { is_expected.to compile.and_raise_error(%r{confdir.*Stdlib::Absolutepath}) }
    end

    context 'a port out of range' do
      let(:params) { { 'broker_port' => 70_000 } }

      it { is_expected.to compile.and_raise_error(%r{broker_port}) }
    end

    context 'an unknown security provider' do
      let(:params) { { 'securityprovider' => 'aes' } }

      it { is_expected.to compile.and_raise_error(%r{securityprovider.*expects a match for Pymco::Securityprovider}) }
    end

    context 'a setting value with a line break (it would inject settings)' do
      let(:params) { { 'common_settings' => { 'loglevel' => "info\nplugin.psk = evil" } } }

      it { is_expected.to compile.and_raise_error(%r{common_settings}) }
    end

    context 'a malformed setting key' do
      let(:params) { { 'common_settings' => { 'bad key' => 'x' } } }

      it { is_expected.to compile.and_raise_error(%r{common_settings}) }
    end

    context 'an unknown service manager' do
      let(:pre_condition) { "class { 'pymco::server': service_manager => 'upstart' }" }

      it { is_expected.to compile.and_raise_error(%r{service_manager}) }
    end

    context 'an identity pymcod refuses' do
      let(:pre_condition) { "class { 'pymco::server': identity => 'web 1' }" }

      it { is_expected.to compile.and_raise_error(%r{identity.*Pymco::Identity}) }
    end
  end

  context 'with connector nats' do
    let(:params) { { connector: 'nats', brokers: ['nats1.example.com', 'nats2.example.com'], client: true } }

    it 'writes one servers list on port 4222, the credentials and no STOMP pool, in both configs' do
      ['/etc/pymco/server.cfg', '/etc/pymco/client.cfg'].each do |path|
        lines = setting_lines(catalogue, path)
        expect(lines).to include(
          'connector = nats',
          'plugin.nats.servers = nats://nats1.example.com:4222,nats://nats2.example.com:4222',
          'plugin.nats.randomize = false',
          'plugin.nats.user = mcollective',
          'plugin.nats.password = broker-pw',
        )
        expect(lines.grep(%r{pool|rabbitmq|plugin\.nats\.(ssl|token)})).to eq([])
      end
    end

    context 'with TLS, a token, a per-host port and a plain member' do
      let(:params) do
        super().merge(brokers: ['nats1.example.com', { 'host' => 'nats2.example.com', 'port' => 4443, 'ssl' => false }],
                      broker_port: 4333, broker_ssl: true, broker_ssl_ca: '/etc/ssl/ca.pem',
                      broker_ssl_cert: '/etc/ssl/me.pem', broker_ssl_key: '/etc/ssl/me.key',
                      broker_token: sensitive('nats-token'), broker_randomize: true)
      end

      it 'uses tls:// where TLS is on and writes the pool-wide TLS files and the token' do
        expect(setting_lines(catalogue, server_cfg)).to include(
          'plugin.nats.servers = tls://nats1.example.com:4333,nats://nats2.example.com:4443',
          'plugin.nats.randomize = true',
          'plugin.nats.ssl = true',
          'plugin.nats.ssl.ca = /etc/ssl/ca.pem',
          'plugin.nats.ssl.cert = /etc/ssl/me.pem',
          'plugin.nats.ssl.key = /etc/ssl/me.key',
          'plugin.nats.token = nats-token',
        )
      end
    end

    context 'with a per-host user' do
      let(:params) { super().merge(brokers: [{ 'host' => 'nats1.example.com', 'user' => 'other' }]) }

      it { is_expected.to compile.and_raise_error(%r{NATS broker nats1\.example\.com sets user: with connector nats only port and ssl}) }
    end
  end

  context 'with a broker_token on rabbitmq' do
    let(:params) { { broker_token: sensitive('t') } }

    it { is_expected.to compile.and_raise_error(%r{broker_token is for connector nats, not rabbitmq}) }
  end
end
