# frozen_string_literal: true

require 'spec_helper'

describe 'pymco::middleware::rabbitmq' do
  let(:params) { { 'users' => { 'mcollective' => 'secret' } } }
  let(:dropin) { '/etc/rabbitmq/conf.d/50-pymco.conf' }

  context 'with one user and the default collective' do
    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_package('rabbitmq-server').that_comes_before('File[/etc/rabbitmq/conf.d]') }

    it 'listens for STOMP on every interface, in its own conf.d drop-in' do
      expect(content_of(catalogue, dropin)).to eq(
        "# Managed by pymco (scripts/broker-setup or the pymco Puppet module)\nstomp.listeners.tcp.1 = 61613\n",
      )
      is_expected.not_to contain_file('/etc/rabbitmq/rabbitmq.conf')
    end

    it 'enables the plugin offline and restarts RabbitMQ only when something changed' do
      is_expected.to contain_exec('pymco-rabbitmq-stomp-plugin')
        .with_command('/usr/sbin/rabbitmq-plugins --offline enable rabbitmq_stomp')
        .with_unless('grep -qw rabbitmq_stomp /etc/rabbitmq/enabled_plugins')
      is_expected.to contain_service('rabbitmq-server').with(ensure: 'running', enable: true)
        .that_subscribes_to(["File[#{dropin}]", 'Exec[pymco-rabbitmq-stomp-plugin]'])
      is_expected.to contain_exec('pymco-rabbitmq-ready').with_refreshonly(true)
        .that_subscribes_to('Service[rabbitmq-server]').that_comes_before('Exec[pymco-rabbitmq-vhost]')
    end

    it 'creates vhost, user and permissions, each guarded by its check' do
      is_expected.to contain_exec('pymco-rabbitmq-vhost')
        .with_command('/usr/sbin/rabbitmqctl -q add_vhost /mcollective')
        .with_unless('/usr/sbin/rabbitmqctl -q list_vhosts name | grep -qxF -- /mcollective')
      user = catalogue.resource('Exec', 'pymco-rabbitmq-user-mcollective')
      expect(user.sensitive_parameters).to include(:command, :unless)
      expect(user[:unless]).to eq('/usr/sbin/rabbitmqctl -q authenticate_user mcollective secret')
      expect(user[:command]).to include('add_user mcollective secret ||').and include('change_password mcollective secret')
      is_expected.to contain_exec('pymco-rabbitmq-permissions-mcollective')
        .with_command("/usr/sbin/rabbitmqctl -q set_permissions -p /mcollective mcollective '.*' '.*' '.*'")
        .that_requires('Exec[pymco-rabbitmq-user-mcollective]')
    end

    it 'declares both topic exchanges of the collective and the reply exchange' do
      json = JSON.parse(content_of(catalogue, '/etc/rabbitmq/pymco-exchanges-_mcollective.json'))
      expect(json['exchanges'].map { |x| x['name'] }).to eq(['mcollective_broadcast', 'mcollective_directed', 'mcollective_reply'])
      expect(json['exchanges'].map { |x| [x['vhost'], x['type'], x['durable'], x['auto_delete']] }.uniq)
        .to eq([['/mcollective', 'topic', true, false]])
      is_expected.to contain_exec('pymco-rabbitmq-exchanges')
        .with_command('/usr/sbin/rabbitmqctl -q import_definitions /etc/rabbitmq/pymco-exchanges-_mcollective.json')
        .with_unless(%r{\Ash -c .*list_exchanges.* /mcollective mcollective_broadcast mcollective_directed mcollective_reply\z})
    end
  end

  context 'as scripts/broker-setup configures it (loopback, TLS)' do
    let(:params) do
      {
        'users' => { 'mcollective' => sensitive('secret') },
        'stomp_address' => '127.0.0.1',
        'stomp_tls_port' => 61614,
        'tls_ca' => '/etc/rabbitmq/ca.pem',
        'tls_cert' => '/etc/rabbitmq/cert.pem',
        'tls_key' => '/etc/rabbitmq/key.pem',
        'collectives' => ['mcollective', 'dc_east'],
        'reply_exchange' => false,
        'vhost' => '/pymco',
      }
    end

    it { is_expected.to compile.with_all_deps }

    it 'writes the same drop-in as broker-setup' do
      expect(content_of(catalogue, dropin)).to eq(<<~CONF)
        # Managed by pymco (scripts/broker-setup or the pymco Puppet module)
        stomp.listeners.tcp.1 = 127.0.0.1:61613
        stomp.listeners.ssl.1 = 127.0.0.1:61614
        ssl_options.cacertfile = /etc/rabbitmq/ca.pem
        ssl_options.certfile = /etc/rabbitmq/cert.pem
        ssl_options.keyfile = /etc/rabbitmq/key.pem
        ssl_options.verify = verify_peer
        ssl_options.fail_if_no_peer_cert = false
      CONF
    end

    it 'creates four exchanges in the vhost' do
      json = JSON.parse(content_of(catalogue, '/etc/rabbitmq/pymco-exchanges-_pymco.json'))
      expect(json['exchanges'].map { |x| x['name'] })
        .to eq(['mcollective_broadcast', 'mcollective_directed', 'dc_east_broadcast', 'dc_east_directed'])
    end
  end

  context 'TLS only, as scripts/broker-setup --tls-only' do
    let(:params) do
      { 'users' => { 'u' => 'p' }, 'stomp_address' => '127.0.0.1', 'stomp_plain' => false, 'stomp_tls_port' => 61613,
        'tls_ca' => '/ca.pem', 'tls_cert' => '/cert.pem', 'tls_key' => '/key.pem' }
    end

    it do
      expect(content_of(catalogue, dropin).lines.first(3)).to eq([
                                                                   "# Managed by pymco (scripts/broker-setup or the pymco Puppet module)\n",
                                                                   "stomp.listeners.tcp = none\n",
                                                                   "stomp.listeners.ssl.1 = 127.0.0.1:61613\n",
                                                                 ])
    end
  end

  context 'without managing package and service' do
    let(:params) { { 'users' => { 'u' => 'p' }, 'manage_package' => false, 'manage_service' => false } }

    it { is_expected.to compile.with_all_deps }
    it { is_expected.not_to contain_package('rabbitmq-server') }
    it { is_expected.not_to contain_service('rabbitmq-server') }
    it { is_expected.not_to contain_exec('pymco-rabbitmq-ready') }
  end

  context 'with ensure => absent' do
    let(:params) { { 'ensure' => 'absent', 'users' => { 'mcollective' => 'x' } } }

    it { is_expected.to compile.with_all_deps }

    it 'removes the users and the vhost but keeps RabbitMQ and its listener' do
      is_expected.to contain_exec('pymco-rabbitmq-user-mcollective')
        .with_command('/usr/sbin/rabbitmqctl -q delete_user mcollective')
        .with_onlyif('/usr/sbin/rabbitmqctl -q list_users | cut -f1 | grep -qxF -- mcollective')
      is_expected.to contain_exec('pymco-rabbitmq-vhost').with_command('/usr/sbin/rabbitmqctl -q delete_vhost /mcollective')
      is_expected.to contain_file('/etc/rabbitmq/pymco-exchanges-_mcollective.json').with_ensure('absent')
      is_expected.to contain_package('rabbitmq-server').with_ensure('installed')
      is_expected.to contain_service('rabbitmq-server').with_ensure('running')
      is_expected.to contain_file(dropin).with_ensure('file')
    end
  end

  context 'a member joining a cluster, as scripts/broker-setup --cookie --join' do
    let(:params) do
      super().merge('erlang_cookie' => sensitive('COOKIE'), 'cluster_join' => 'rabbit@mq1', 'nofile' => 65_536)
    end
    let(:cluster_dropin) { '/etc/rabbitmq/conf.d/40-pymco-cluster.conf' }

    it { is_expected.to compile.with_all_deps }

    it 'writes the same cluster drop-in as broker-setup --print-cluster-config' do
      script = File.expand_path('../../../../scripts/broker-setup', __dir__)
      expect(content_of(catalogue, cluster_dropin)).to eq(`bash #{script} --print-cluster-config`)
      is_expected.to contain_file(cluster_dropin).that_notifies('Service[rabbitmq-server]')
    end

    it 'writes the cookie for the rabbitmq user only, without showing it, and restarts' do
      is_expected.to contain_file('/var/lib/rabbitmq/.erlang.cookie')
        .with(owner: 'rabbitmq', mode: '0400', show_diff: false).that_notifies('Service[rabbitmq-server]')
    end

    it 'joins once, after the node is up and before the vhost' do
      is_expected.to contain_exec('pymco-rabbitmq-join-cluster')
        .with_command(%r{stop_app && /usr/sbin/rabbitmqctl -q join_cluster rabbit@mq1; rc=\$\?; .*start_app})
        .with_unless('/usr/sbin/rabbitmqctl -q cluster_status --formatter json | grep -qF -- \\"rabbit@mq1\\"')
        .that_requires('Exec[pymco-rabbitmq-ready]').that_comes_before('Exec[pymco-rabbitmq-vhost]')
    end

    it 'raises the open-files limit of the service' do
      is_expected.to contain_file('/etc/systemd/system/rabbitmq-server.service.d/pymco-limits.conf')
        .with_content("[Service]\nLimitNOFILE=65536\n").that_notifies('Exec[pymco-rabbitmq-systemd-reload]')
    end
  end

  context 'a lone broker' do
    it { is_expected.not_to contain_file('/etc/rabbitmq/conf.d/40-pymco-cluster.conf') }
    it { is_expected.not_to contain_exec('pymco-rabbitmq-join-cluster') }
  end

  describe 'rejects impossible or bad parameters' do
    context 'no users' do
      let(:params) { {} }

      it { is_expected.to compile.and_raise_error(%r{give at least one broker user}) }
    end

    context 'a TLS port without certificates' do
      let(:params) { { 'users' => { 'u' => 'p' }, 'stomp_tls_port' => 61614, 'tls_ca' => '/ca.pem' } }

      it { is_expected.to compile.and_raise_error(%r{stomp_tls_port needs tls_ca, tls_cert and tls_key}) }
    end

    context 'the TLS port on the plain port' do
      let(:params) do
        { 'users' => { 'u' => 'p' }, 'stomp_tls_port' => 61613, 'tls_ca' => '/a', 'tls_cert' => '/b', 'tls_key' => '/c' }
      end

      it { is_expected.to compile.and_raise_error(%r{stomp_tls_port and stomp_port are both 61613}) }
    end

    context 'no listener at all' do
      let(:params) { { 'users' => { 'u' => 'p' }, 'stomp_plain' => false } }

      it { is_expected.to compile.and_raise_error(%r{stomp_plain => false needs stomp_tls_port}) }
    end

    context 'a password the rabbitmqctl wrapper would expand' do
      let(:params) { { 'users' => { 'u' => 'pa$word' } } }

      it { is_expected.to compile.and_raise_error(%r{password of u must not contain}) }
    end

    context 'an IPv6 or malformed listen address' do
      let(:params) { { 'users' => { 'u' => 'p' }, 'stomp_address' => 'localhost' } }

      it { is_expected.to compile.and_raise_error(%r{stomp_address}) }
    end

    context 'a collective that cannot be an exchange name' do
      let(:params) { { 'users' => { 'u' => 'p' }, 'collectives' => ['a b'] } }

      it { is_expected.to compile.and_raise_error(%r{collectives}) }
    end

    context 'a user name with shell characters' do
      let(:params) { { 'users' => { 'u;rm' => 'p' } } }

      it { is_expected.to compile.and_raise_error(%r{users}) }
    end
  end
end
