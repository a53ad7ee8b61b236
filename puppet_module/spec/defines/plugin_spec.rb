# frozen_string_literal: true

require 'spec_helper'

describe 'pymco::plugin' do
  let(:title) { 'nodeinfo' }
  let(:params) { { 'agent_content' => "# agent\n", 'ddl_source' => 'puppet:///modules/profile/nodeinfo.yaml' } }

  context 'a Python agent' do
    it { is_expected.to compile.with_all_deps }

    it 'puts agent and DDL in the site libdir and restarts the daemon' do
      is_expected.to contain_file('/usr/local/share/pymco/agents/nodeinfo.py')
        .with(content: "# agent\n", mode: '0644').that_notifies('Class[pymco::server::service]')
        .that_requires('Class[pymco::install]')
      is_expected.to contain_file('/usr/local/share/pymco/ddl/nodeinfo.yaml')
        .with(source: 'puppet:///modules/profile/nodeinfo.yaml').that_notifies('Class[pymco::server::service]')
    end
  end

  context 'an agent in another language' do
    let(:params) { super().merge('implementation' => 'external', 'ddl_format' => 'json') }

    it { is_expected.to contain_file('/usr/local/share/pymco/agents/nodeinfo').with_ensure('directory') }
    it { is_expected.to contain_file('/usr/local/share/pymco/agents/nodeinfo/nodeinfo').with_mode('0755') }
    it { is_expected.to contain_file('/usr/local/share/pymco/ddl/nodeinfo.json') }
  end

  context 'removed' do
    let(:params) { { 'ensure' => 'absent' } }

    it { is_expected.to contain_file('/usr/local/share/pymco/agents/nodeinfo.py').with_ensure('absent') }
    it { is_expected.to contain_file('/usr/local/share/pymco/ddl/nodeinfo.yaml').with_ensure('absent') }
  end

  context 'declared through pymco::server' do
    let(:pre_condition) do
      "class { 'pymco::server': plugins => { 'hello' => { 'agent_content' => 'x', 'ddl_content' => 'y' } } }"
    end

    it { is_expected.to contain_pymco__plugin('hello') }
    it { is_expected.to contain_file('/usr/local/share/pymco/agents/hello.py') }
  end

  context 'both content and source' do
    let(:params) { super().merge('agent_source' => '/tmp/a.py') }

    it { is_expected.to compile.and_raise_error(%r{exactly one of agent_content and agent_source}) }
  end

  context 'no DDL' do
    let(:params) { { 'agent_content' => 'x' } }

    it { is_expected.to compile.and_raise_error(%r{exactly one of ddl_content and ddl_source}) }
  end

  context 'a name that is not a plugin name' do
    let(:title) { '../evil' }

    it { is_expected.to compile.and_raise_error(%r{a plugin name is lower-case letters}) }
  end
end
