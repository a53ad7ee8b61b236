# frozen_string_literal: true

require 'spec_helper'

# The examples compile with their own Hiera data, as `puppet apply` would use them.
EXAMPLES = File.expand_path('../../examples', __dir__)

describe 'node1.example.com' do
  context 'examples/single_node.pp' do
    let(:hiera_config) { File.join(EXAMPLES, 'single_node', 'hiera.yaml') }
    let(:pre_condition) { File.read(File.join(EXAMPLES, 'single_node.pp')) }

    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_class('pymco::middleware::rabbitmq').that_comes_before('Class[pymco]') }
    it { is_expected.to contain_class('pymco::client') }

    it 'puts broker and node into the same two collectives, one named after os.family' do
      lines = setting_lines(catalogue, '/etc/pymco/server.cfg')
      expect(lines).to include('collectives = mcollective,os_Debian', 'main_collective = mcollective',
                               'plugin.rabbitmq.pool.1.host = 127.0.0.1',
                               'plugin.puppet.command = puppet apply /etc/puppet/code/environments/production/manifests')
      json = JSON.parse(content_of(catalogue, '/etc/rabbitmq/pymco-exchanges-_mcollective.json'))
      expect(json['exchanges'].map { |x| x['name'] }).to include('os_Debian_broadcast', 'os_Debian_directed')
      expect(content_of(catalogue, '/etc/rabbitmq/conf.d/50-pymco.conf')).to include('stomp.listeners.tcp.1 = 127.0.0.1:61613')
    end
  end
end

shared_context 'broker_and_nodes example' do
  let(:hiera_config) { File.join(EXAMPLES, 'broker_and_nodes', 'hiera.yaml') }
  let(:pre_condition) { File.read(File.join(EXAMPLES, 'broker_and_nodes.pp')) }
end

describe 'mq1.example.com' do
  include_context 'broker_and_nodes example'

  it { is_expected.to compile.with_all_deps }
  it { is_expected.to contain_class('pymco::middleware::rabbitmq') }
  it { is_expected.to contain_file('/etc/rabbitmq/conf.d/50-pymco.conf').with_content(%r{^stomp\.listeners\.ssl\.1 = 61614$}) }
end

describe 'web1.example.com' do
  include_context 'broker_and_nodes example'
  let(:facts) { DEBIAN_FACTS.merge('dc' => 'east') }

  it { is_expected.to compile.with_all_deps }
  it { is_expected.not_to contain_class('pymco::middleware::rabbitmq') }
  it { is_expected.not_to contain_class('pymco::client') }

  it 'joins its data centre collective and uses both brokers over TLS' do
    lines = setting_lines(catalogue, '/etc/pymco/server.cfg')
    expect(lines).to include('collectives = mcollective,dc_east', 'plugin.rabbitmq.pool.size = 2',
                             'plugin.rabbitmq.pool.2.host = mq2.example.com', 'plugin.rabbitmq.pool.1.ssl = true',
                             'plugin.rabbitmq.pool.1.ssl.ca = /etc/ssl/certs/example-ca.pem')
  end
end

describe 'admin1.example.com' do
  include_context 'broker_and_nodes example'

  it { is_expected.to contain_file('/etc/pymco/client.cfg').with_group('mcoadmins') }
  it { expect(setting_lines(catalogue, '/etc/pymco/client.cfg')).to include('collectives = mcollective,dc_east,dc_west') }
end

describe 'node1.example.com' do
  context 'examples/activemq_broker.pp' do
    let(:hiera_config) { File.join(EXAMPLES, 'activemq_broker', 'hiera.yaml') }
    let(:pre_condition) { File.read(File.join(EXAMPLES, 'activemq_broker.pp')) }

    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_class('pymco::middleware::activemq').that_comes_before('Class[pymco]') }

    it 'gives broker, daemon and client the same collectives over the activemq connector' do
      lines = setting_lines(catalogue, '/etc/pymco/server.cfg')
      expect(lines).to include('connector = activemq', 'collectives = mcollective,os_Debian',
                               'plugin.activemq.pool.1.host = 127.0.0.1', 'plugin.activemq.pool.1.port = 61613',
                               'plugin.activemq.pool.1.user = mcollective')
      expect(lines.grep(%r{rabbitmq})).to be_empty
      xml = content_of(catalogue, '/etc/activemq/instances-available/main/activemq.xml')
      expect(xml).to include('uri="stomp://127.0.0.1:61613?', '<authenticationUser username="mcollective" password="change-me-broker-password"',
                             '<authorizationEntry topic="os_Debian.>"')
      expect(setting_lines(catalogue, '/etc/pymco/client.cfg')).to include('connector = activemq')
    end
  end
end
