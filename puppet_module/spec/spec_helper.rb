# frozen_string_literal: true

# rspec-puppet with puppetlabs_spec_helper, both from Debian's packages.
require 'puppetlabs_spec_helper/module_spec_helper'

# Structured facts only (strict variables are on): a Debian 12 node without
# systemd, as on the CI machine.  Specs override what they test.
DEBIAN_FACTS = {
  'os' => {
    'family' => 'Debian',
    'name' => 'Debian',
    'release' => { 'major' => '12', 'minor' => '11', 'full' => '12.11' },
  },
  'networking' => { 'fqdn' => 'node1.example.com', 'hostname' => 'node1' },
  'service_provider' => 'debian',
  'kernel' => 'Linux',
  'path' => '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
}.freeze

REDHAT_FACTS = DEBIAN_FACTS.merge(
  'os' => {
    'family' => 'RedHat',
    'name' => 'RedHat',
    'release' => { 'major' => '9', 'minor' => '4', 'full' => '9.4' },
  },
  'service_provider' => 'systemd',
).freeze

RSpec.configure do |c|
  c.default_facts = DEBIAN_FACTS
  c.strict_variables = true
  c.hiera_config = File.join(__dir__, 'fixtures', 'hiera', 'hiera.yaml')
end

EMPTY_HIERA = File.join(__dir__, 'fixtures', 'hiera', 'empty.yaml')

# The text of a file resource's content, unwrapping Sensitive.
def content_of(catalogue, path)
  resource = catalogue.resource('File', path)
  raise "no File[#{path}] in the catalog" if resource.nil?
  content = resource[:content]
  content.respond_to?(:unwrap) ? content.unwrap : content
end

# The `key = value` lines of a rendered config, in order.
def setting_lines(catalogue, path)
  content_of(catalogue, path).lines.map(&:chomp).reject { |l| l.start_with?('#') || l.empty? }
end
