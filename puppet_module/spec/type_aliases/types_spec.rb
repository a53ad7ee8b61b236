# frozen_string_literal: true

require 'spec_helper'

describe 'Pymco::Collective' do
  it { is_expected.to allow_values('mcollective', 'dc_east', 'A1') }
  it { is_expected.not_to allow_values('dc-east', 'a.b', '', 'a b', "a\n") }
end

describe 'Pymco::Setting' do
  it { is_expected.to allow_values('x', '', 1, 1.5, true, ['a', 2]) }
  it { is_expected.not_to allow_values("a\nb", "a\rb", [], ['a,b'], nil, { 'a' => 1 }) }
end

describe 'Pymco::Broker' do
  it { is_expected.to allow_values('mq1.example.com', '10.0.0.1', { 'host' => 'mq1', 'port' => 61614, 'ssl' => true }) }
  it { is_expected.not_to allow_values({ 'host' => 'mq1', 'port' => 0 }, { 'port' => 1 }, { 'host' => 'mq1', 'colour' => 'red' }) }
end

describe 'Pymco::Setting_key' do
  it { is_expected.to allow_values('loglevel', 'plugin.rabbitmq.pool.1.host', 'plugin.puppet.resource_name_whitelist.file') }
  it { is_expected.not_to allow_values('bad key', 'a..b', '.a', 'a=b') }
end
