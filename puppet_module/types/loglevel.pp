# @summary The log levels pymcod and mco understand.
type Pymco::Loglevel = Enum['debug', 'info', 'warn', 'error', 'fatal']
