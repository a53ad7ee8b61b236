# frozen_string_literal: true

# pymco_puppet_ssl: where this node's Puppet certificate, key and CA live,
# when all three exist.  pymco's x509 security provider signs with them, so
# the module makes x509 the default security provider where this fact is set.
# `ca_server` (Puppet's ca_server:ca_port) is where pymcod fetches the CRL.
Facter.add(:pymco_puppet_ssl) do
  setcode do
    begin
      require 'puppet'
      Puppet.initialize_settings unless Puppet.settings.global_defaults_initialized?
      paths = {
        'ca' => Puppet.settings[:localcacert],
        'cert' => Puppet.settings[:hostcert],
        'private_key' => Puppet.settings[:hostprivkey],
      }
      if paths.values.all? { |path| File.file?(path) }
        paths.merge('ssldir' => Puppet.settings[:ssldir], 'certname' => Puppet.settings[:certname],
                    'ca_server' => "#{Puppet.settings[:ca_server]}:#{Puppet.settings[:ca_port]}")
      end
    rescue LoadError, StandardError
      nil
    end
  end
end
