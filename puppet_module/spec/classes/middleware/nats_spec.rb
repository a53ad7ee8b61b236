# frozen_string_literal: true

require 'spec_helper'

describe 'pymco::middleware::nats' do
  let(:params) { { 'node_password' => 'nodepw', 'client_password' => 'clientpw' } }
  let(:conf) { content_of(catalogue, '/etc/nats-server.conf') }

  context 'as a single server for the default collective' do
    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_package('nats-server').with_ensure('installed').that_comes_before('File[/etc/nats-server.conf]') }

    it 'writes the configuration readable by the server only and restarts the service on a change' do
      is_expected.to contain_file('/etc/nats-server.conf').with(owner: 'root', group: 'nats', mode: '0640')
      expect(catalogue.resource('File', '/etc/nats-server.conf').sensitive_parameters).to include(:content)
      is_expected.to contain_service('nats-server').with(ensure: 'running', enable: true)
        .that_subscribes_to('File[/etc/nats-server.conf]')
    end

    it 'listens on every interface, without a cluster or TLS' do
      expect(conf).to include(%(server_name: "node1.example.com"\n), %(host: "0.0.0.0"\n), "port: 4222\n",
                              "max_connections: 65536\n")
      expect(conf).not_to include('cluster {')
      expect(conf).not_to include('tls {')
    end

    it 'lets nodes read their subjects and publish replies only, and clients the reverse' do
      expect(conf).to include(
        '{user: "pymco-node", password: "nodepw",' \
        "\n     permissions: {publish: {allow: [\"mcollective.reply.>\", \"mcollective.broadcast.agent.registration\"]},\n" \
        "                   subscribe: {allow: [\"mcollective.broadcast.agent.>\", \"mcollective.node.>\"]}}}",
      )
      expect(conf).to include(
        '{user: "pymco-client", password: "clientpw",' \
        "\n     permissions: {publish: {allow: [\"mcollective.broadcast.agent.>\", \"mcollective.node.>\"]},\n" \
        "                   subscribe: {allow: [\"mcollective.reply.>\"]}}}",
      )
    end
  end

  context 'as a cluster member with TLS, two collectives and monitoring' do
    let(:params) do
      super().merge('routes' => ['nats-route://nats2.example.com:6222', 'nats-route://nats3.example.com:6222'],
                    'collectives' => ['mcollective', 'dc_east'], 'monitor_port' => 8222,
                    'tls_cert' => '/etc/nats/cert.pem', 'tls_key' => '/etc/nats/key.pem', 'tls_ca' => '/etc/nats/ca.pem',
                    'tls_verify' => true)
    end

    it 'routes to the other members' do
      expect(conf).to include(%(cluster {\n  name: "pymco"\n  host: "0.0.0.0"\n  port: 6222\n  routes: [\n) +
                              %(    "nats-route://nats2.example.com:6222"\n    "nats-route://nats3.example.com:6222"\n  ]\n}))
    end

    it 'asks clients for certificates and gives permissions per collective' do
      expect(conf).to include(%(tls {\n  cert_file: "/etc/nats/cert.pem"\n  key_file: "/etc/nats/key.pem"\n) +
                              %(  ca_file: "/etc/nats/ca.pem"\n  verify: true\n}))
      expect(conf).to include('"dc_east.broadcast.agent.>", "dc_east.node.>"', 'http: "127.0.0.1:8222"')
    end
  end

  context 'with nodes logging in as themselves' do
    let(:params) { super().merge('node_identities' => { 'web1.example.com' => 'web1pw' }) }

    it 'lets such a node read its own directed subject only' do
      expect(conf).to include(
        '{user: "web1.example.com", password: "web1pw",' \
        "\n     permissions: {publish: {allow: [\"mcollective.reply.>\", \"mcollective.broadcast.agent.registration\"]},\n" \
        "                   subscribe: {allow: [\"mcollective.broadcast.agent.>\", \"mcollective.node.web1.example.com\"]}}}",
      )
    end
  end

  context 'without passwords' do
    let(:params) { {} }

    it { is_expected.to compile.and_raise_error(%r{give node_password and client_password}) }
  end

  context 'with a certificate but no key' do
    let(:params) { super().merge('tls_cert' => '/etc/nats/cert.pem') }

    it { is_expected.to compile.and_raise_error(%r{TLS needs tls_cert and tls_key}) }
  end

  context 'with ensure => absent' do
    let(:params) { { 'ensure' => 'absent' } }

    it 'stops the server, then removes its configuration and package' do
      is_expected.to contain_service('nats-server').with(ensure: 'stopped', enable: false)
        .that_comes_before('File[/etc/nats-server.conf]')
      is_expected.to contain_file('/etc/nats-server.conf').with_ensure('absent')
      is_expected.to contain_package('nats-server').with_ensure('absent')
    end
  end
end
