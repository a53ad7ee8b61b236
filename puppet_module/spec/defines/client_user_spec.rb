# frozen_string_literal: true

require 'spec_helper'

describe 'pymco::client::user' do
  let(:title) { 'bob' }

  context 'with the client declared' do
    let(:pre_condition) { "class { 'pymco': client => true }" }
    let(:params) { { 'home' => '/srv/bob', 'group' => 'staff', 'settings' => { 'plugin.psk.callertype' => 'identity' } } }

    it { is_expected.to compile.with_all_deps }

    it do
      is_expected.to contain_file('/srv/bob/.pymco').with(owner: 'bob', group: 'staff', mode: '0600')
      expect(setting_lines(catalogue, '/srv/bob/.pymco')).to include('plugin.psk.callertype = identity', 'logger_type = console')
    end
  end

  context 'without the client' do
    it { is_expected.to compile.and_raise_error(%r{declare pymco::client first}) }
  end
end
