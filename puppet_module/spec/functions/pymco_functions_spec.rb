# frozen_string_literal: true

require 'spec_helper'

describe 'pymco::config_value' do
  it { is_expected.to run.with_params('text').and_return('text') }
  it { is_expected.to run.with_params(61_613).and_return('61613') }
  it { is_expected.to run.with_params(true).and_return('true') }
  it { is_expected.to run.with_params(['a', 'b']).and_return('a,b') }
  it { is_expected.to run.with_params(sensitive('s3cret')).and_return('s3cret') }
  it { is_expected.to run.with_params("two\nlines").and_raise_error(%r{expects a Pymco::Setting}) }
end

describe 'pymco::plugin_settings' do
  it do
    is_expected.to run.with_params('puppet' => { 'command' => 'puppet apply x.pp', 'splay' => false }, 'psk' => { 'callertype' => 'uid' })
                      .and_return('plugin.puppet.command' => 'puppet apply x.pp', 'plugin.puppet.splay' => false,
                                  'plugin.psk.callertype' => 'uid')
  end
  it { is_expected.to run.with_params('bad name' => {}).and_raise_error(%r{expects a match}) }
end

describe 'pymco::inside' do
  it { is_expected.to run.with_params('/etc/pymco/server.cfg', '/etc/pymco').and_return(true) }
  it { is_expected.to run.with_params('/etc/pymco/server.cfg', '/etc/pymco/').and_return(true) }
  it { is_expected.to run.with_params('/etc/pymco', '/etc/pymco').and_return(false) }
  it { is_expected.to run.with_params('/etc/pymco2/server.cfg', '/etc/pymco').and_return(false) }
end

describe 'pymco::check_stomp_listeners' do
  needs = { 'ca' => '/ca.pem', 'cert' => nil }
  it { is_expected.to run.with_params('c', true, 61_613, nil, needs).and_return(nil) }
  it { is_expected.to run.with_params('c', true, 61_613, 61_614, needs.merge('cert' => '/c.pem')).and_return(nil) }
  it { is_expected.to run.with_params('c', true, 61_613, 61_614, needs).and_raise_error(%r{c: stomp_tls_port needs ca and cert}) }
  it { is_expected.to run.with_params('c', false, 61_613, nil, needs).and_raise_error(%r{c: stomp_plain => false needs stomp_tls_port}) }
  it { is_expected.to run.with_params('c', true, 61_613, 61_613, 'ca' => '/ca.pem').and_raise_error(%r{c: stomp_tls_port and stomp_port are both 61613}) }
end
