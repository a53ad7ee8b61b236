# frozen_string_literal: true

require 'spec_helper'

describe 'pymco::facts' do
  context 'with Puppet facts every two hours from cron' do
    let(:params) { { 'interval' => 120, 'puppet_facts' => true, 'facts_file' => '/var/lib/pymco/facts.yaml' } }

    it { is_expected.to compile.with_all_deps }

    it do
      expect(content_of(catalogue, '/etc/cron.d/pymco-facts')).to match(
        %r{^0 \*/2 \* \* \* root /opt/pymco/bin/pymcod facts refresh --output /var/lib/pymco/facts\.yaml --facter /usr/bin/facter --puppet >/dev/null$},
      )
      is_expected.to contain_file('/etc/pymco/server.cfg').with_content(sensitive(%r{^plugin\.yaml = /var/lib/pymco/facts\.yaml$}))
    end
  end

  context 'daily' do
    let(:params) { { 'interval' => 1440 } }

    it { expect(content_of(catalogue, '/etc/cron.d/pymco-facts')).to match(%r{^0 0 \* \* \* root }) }
  end

  context 'without a scheduler' do
    let(:params) { { 'scheduler' => 'none' } }

    it { is_expected.to contain_exec('pymco-facts-seed') }
    it { is_expected.not_to contain_file('/etc/cron.d/pymco-facts') }
  end

  context 'an interval cron cannot express' do
    let(:params) { { 'interval' => 90 } }

    it { is_expected.to compile.and_raise_error(%r{cron cannot run every 90 minutes}) }
  end

  context 'an interval out of range' do
    let(:params) { { 'interval' => 0 } }

    it { is_expected.to compile.and_raise_error(%r{interval}) }
  end

  context 'the same interval from a systemd timer' do
    let(:params) { { 'interval' => 90, 'scheduler' => 'systemd' } }

    it { expect(content_of(catalogue, '/etc/systemd/system/pymco-facts.timer')).to include('OnUnitActiveSec=90min') }
  end
end
