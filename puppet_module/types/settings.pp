# @summary A hash of config settings: `key => value`, or `key => undef` to drop a default.
type Pymco::Settings = Hash[Pymco::Setting_key, Optional[Pymco::Setting]]
