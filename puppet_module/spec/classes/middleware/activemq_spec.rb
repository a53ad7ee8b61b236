# frozen_string_literal: true

require 'spec_helper'

describe 'pymco::middleware::activemq' do
  let(:params) { { 'users' => { 'mcollective' => { 'password' => 'secret' } } } }
  let(:instance_dir) { '/etc/activemq/instances-available/main' }
  let(:xml) { content_of(catalogue, "#{instance_dir}/activemq.xml") }

  context 'with one user and the default collective' do
    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_package('activemq').with_ensure('installed').that_comes_before("File[#{instance_dir}]") }

    it 'writes the instance, readable by the broker only, and enables it' do
      is_expected.to contain_file(instance_dir).with(ensure: 'directory', owner: 'root', group: 'activemq', mode: '0750')
      is_expected.to contain_file("#{instance_dir}/activemq.xml").with(owner: 'root', group: 'activemq', mode: '0640')
      expect(catalogue.resource('File', "#{instance_dir}/activemq.xml").sensitive_parameters).to include(:content)
      is_expected.to contain_file('/etc/activemq/instances-enabled/main').with(ensure: 'link', target: instance_dir)
      is_expected.to contain_file('/var/lib/activemq/main/data').with(ensure: 'directory', owner: 'activemq')
    end

    it 'listens for STOMP on every interface with heart-beat grace' do
      expect(xml).to include('<transportConnector name="stomp" uri="stomp://0.0.0.0:61613?transport.hbGracePeriodMultiplier=1.5"/>')
      expect(xml).not_to include('stomp+ssl')
      expect(xml).not_to include('sslContext')
    end

    it 'authenticates the user and lets its group use the collective and the advisories' do
      expect(xml).to include('<authenticationUser username="mcollective" password="secret" groups="mcollective"/>')
      expect(xml).to include('<authorizationEntry topic="mcollective.>" read="mcollective" write="mcollective" admin="mcollective"/>')
      expect(xml).to include('<authorizationEntry queue="mcollective.>" read="mcollective" write="mcollective" admin="mcollective"/>')
      expect(xml).to include('<authorizationEntry topic="ActiveMQ.Advisory.>" read="mcollective" write="mcollective" admin="mcollective"/>')
      expect(xml.scan('<authorizationEntry ').size).to eq(3)
    end

    it 'keeps messages in memory and drops idle reply queues, as scripts/activemq-setup does' do
      expect(xml).to include('brokerName="node1.example.com"', 'persistent="false"', 'dataDirectory="${activemq.base}/data"')
      expect(xml).to include('<policyEntry queue="*.reply.>" gcInactiveDestinations="true" inactiveTimoutBeforeGC="300000"/>')
    end

    it 'sets the heap and the instance folder in the options file Debian reads' do
      options = content_of(catalogue, "#{instance_dir}/options")
      expect(options).to include(%(ACTIVEMQ_BASE="/var/lib/activemq/main"\n),
                                 %(ACTIVEMQ_OPTS="-Xms512m -Xmx512m -Dorg.apache.activemq.UseDedicatedTaskRunner=true"\n),
                                 %(ACTIVEMQ_ARGS="start xbean:activemq.xml"\n), %(JAVA_HOME="/usr/lib/jvm/default-java"\n))
    end

    it 'runs the init script, checks and stops this instance only, restarts on a change' do
      is_expected.to contain_service('activemq').with(ensure: 'running', enable: true, provider: 'debian')
        .that_subscribes_to(["File[#{instance_dir}/activemq.xml]", "File[#{instance_dir}/options]",
                             'File[/etc/activemq/instances-enabled/main]'])
      service = catalogue.resource('Service', 'activemq')
      expect(service[:status]).to eq(%(sh -c 'p=$(cat "$0" 2>/dev/null) && grep -qzxF -- "$1" "/proc/$p/cmdline"' ) +
                                     '/var/run/activemq/main.pid -Dactivemq.base\\=/var/lib/activemq/main')
      stop = 'start-stop-daemon --stop --quiet --oknodo --pidfile /var/run/activemq/main.pid --user activemq --name java ' \
             '--retry TERM/60/KILL/5 && rm -f /var/run/activemq/main.pid'
      expect(service[:stop]).to eq(stop)
      expect(service[:restart]).to eq("#{stop} && /etc/init.d/activemq start")
    end
  end

  context 'on loopback with TLS, two collectives, groups, a Sensitive password that needs escaping' do
    let(:params) do
      {
        'instance' => 'pymco',
        'stomp_bind' => '127.0.0.1',
        'stomp_port' => 61620,
        'stomp_tls_port' => 61621,
        'tls_need_client_auth' => true,
        'keystore' => '/etc/activemq/broker.ks',
        'keystore_password' => sensitive('ks&pw'),
        'truststore' => '/etc/activemq/broker.ts',
        'truststore_password' => 'ts"pw',
        'heap_size' => '2g',
        'collectives' => ['mcollective', 'dc_east'],
        'group' => 'mco',
        'users' => {
          'mcollective' => { 'password' => sensitive('a<b>&"c') },
          'admin' => { 'password' => 'x', 'groups' => ['mco', 'admins'] },
        },
      }
    end
    let(:instance_dir) { '/etc/activemq/instances-available/pymco' }

    it { is_expected.to compile.with_all_deps }

    it 'has both connectors and the SSL context' do
      expect(xml).to include('<transportConnector name="stomp" uri="stomp://127.0.0.1:61620?transport.hbGracePeriodMultiplier=1.5"/>')
      expect(xml).to include('<transportConnector name="stomp+ssl" uri="stomp+ssl://127.0.0.1:61621?needClientAuth=true&amp;' \
                             'transport.hbGracePeriodMultiplier=1.5"/>')
      expect(xml).to include('keyStore="/etc/activemq/broker.ks" keyStorePassword="ks&amp;pw"')
      expect(xml).to include('trustStore="/etc/activemq/broker.ts" trustStorePassword="ts&quot;pw"')
    end

    it 'escapes passwords and gives each collective to the group' do
      expect(xml).to include('<authenticationUser username="mcollective" password="a&lt;b&gt;&amp;&quot;c" groups="mco"/>')
      expect(xml).to include('<authenticationUser username="admin" password="x" groups="mco,admins"/>')
      ['mcollective', 'dc_east'].each do |c|
        expect(xml).to include(%(<authorizationEntry topic="#{c}.>" read="mco" write="mco" admin="mco"/>),
                               %(<authorizationEntry queue="#{c}.>" read="mco" write="mco" admin="mco"/>))
      end
    end

    it 'names the folders, pidfile and heap after the instance' do
      is_expected.to contain_file('/etc/activemq/instances-enabled/pymco').with_target(instance_dir)
      expect(content_of(catalogue, "#{instance_dir}/options")).to include('-Xms2g -Xmx2g', 'ACTIVEMQ_BASE="/var/lib/activemq/pymco"')
      expect(catalogue.resource('Service', 'activemq')[:status]).to end_with('/var/run/activemq/pymco.pid -Dactivemq.base\\=/var/lib/activemq/pymco')
    end
  end

  context 'TLS only' do
    let(:params) do
      { 'users' => { 'u' => { 'password' => 'p' } }, 'stomp_plain' => false, 'stomp_tls_port' => 61613,
        'keystore' => '/ks', 'keystore_password' => 'k', 'truststore' => '/ts', 'truststore_password' => 't' }
    end

    it { expect(xml.scan('<transportConnector ')).to eq(['<transportConnector ']) }
    it { expect(xml).to include('uri="stomp+ssl://0.0.0.0:61613?needClientAuth=false&amp;') }
  end

  context 'without managing package and service' do
    let(:params) { { 'users' => { 'u' => { 'password' => 'p' } }, 'manage_package' => false, 'manage_service' => false } }

    it { is_expected.to compile.with_all_deps }
    it { is_expected.not_to contain_package('activemq') }
    it { is_expected.not_to contain_service('activemq') }
  end

  context 'on Red Hat (module data)' do
    let(:facts) { REDHAT_FACTS }

    it { is_expected.to compile.with_all_deps }

    it 'leaves the service to systemd' do
      is_expected.to contain_service('activemq').with(provider: 'systemd', status: nil, stop: nil, restart: nil)
      expect(content_of(catalogue, "#{instance_dir}/options")).to include('JAVA_HOME="/usr/lib/jvm/jre"')
    end
  end

  context 'with ensure => absent' do
    let(:params) { { 'ensure' => 'absent' } }

    it { is_expected.to compile.with_all_deps }

    it 'stops this instance, then removes its link, config, data, pidfile and the package' do
      is_expected.to contain_service('activemq').with(ensure: 'stopped', stop: %r{\Astart-stop-daemon --stop .*main\.pid})
        .that_comes_before(['File[/etc/activemq/instances-enabled/main]', "File[#{instance_dir}]",
                            'File[/var/lib/activemq/main]', 'File[/var/run/activemq/main.pid]'])
      is_expected.to contain_file('/etc/activemq/instances-enabled/main').with_ensure('absent')
      is_expected.to contain_file(instance_dir).with(ensure: 'absent', force: true)
      is_expected.to contain_file('/var/lib/activemq/main').with(ensure: 'absent', force: true)
      is_expected.to contain_package('activemq').with_ensure('absent').that_requires("File[#{instance_dir}]")
    end
  end

  context 'with ensure => absent, keeping the package' do
    let(:params) { { 'ensure' => 'absent', 'manage_package' => false } }

    it { is_expected.not_to contain_package('activemq') }
  end

  describe 'rejects impossible or bad parameters' do
    context 'no users' do
      let(:params) { {} }

      it { is_expected.to compile.and_raise_error(%r{give at least one broker user}) }
    end

    context 'a TLS port without keystore and truststore' do
      let(:params) { { 'users' => { 'u' => { 'password' => 'p' } }, 'stomp_tls_port' => 61614, 'keystore' => '/ks' } }

      it { is_expected.to compile.and_raise_error(%r{stomp_tls_port needs keystore, keystore_password, truststore and truststore_password}) }
    end

    context 'the TLS port on the plain port' do
      let(:params) do
        { 'users' => { 'u' => { 'password' => 'p' } }, 'stomp_tls_port' => 61613,
          'keystore' => '/ks', 'keystore_password' => 'k', 'truststore' => '/ts', 'truststore_password' => 't' }
      end

      it { is_expected.to compile.and_raise_error(%r{stomp_tls_port and stomp_port are both 61613}) }
    end

    context 'no listener at all' do
      let(:params) { { 'users' => { 'u' => { 'password' => 'p' } }, 'stomp_plain' => false } }

      it { is_expected.to compile.and_raise_error(%r{stomp_plain => false needs stomp_tls_port}) }
    end

    context 'a user without a password' do
      let(:params) { { 'users' => { 'u' => { 'groups' => ['g'] } } } }

      it { is_expected.to compile.and_raise_error(%r{users}) }
    end

    context 'a bad heap size' do
      let(:params) { { 'users' => { 'u' => { 'password' => 'p' } }, 'heap_size' => '512' } }

      it { is_expected.to compile.and_raise_error(%r{heap_size}) }
    end

    context 'an instance name that is not a folder name' do
      let(:params) { { 'users' => { 'u' => { 'password' => 'p' } }, 'instance' => '../main' } }

      it { is_expected.to compile.and_raise_error(%r{instance}) }
    end

    context 'a group with XML characters' do
      let(:params) { { 'users' => { 'u' => { 'password' => 'p' } }, 'group' => 'a"b' } }

      it { is_expected.to compile.and_raise_error(%r{group}) }
    end
  end
end
